// godotenv.Read on FILE; prints the named variables as JSON.
// usage: godotenv-reader FILE NAME...
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/joho/godotenv"
)

func main() {
	got, err := godotenv.Read(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out := map[string]string{}
	for _, n := range os.Args[2:] {
		if v, ok := got[n]; ok {
			out[n] = v
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		os.Exit(1)
	}
}
