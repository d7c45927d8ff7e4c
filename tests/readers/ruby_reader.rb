# Ruby dotenv's parser on FILE; prints the named variables as JSON.
# usage: ruby ruby_reader.rb FILE NAME...
require "dotenv"
require "json"
file, *names = ARGV
got = Dotenv::Environment.new(file, false)
print JSON.generate(got.slice(*names))
