<?php
// phpdotenv on DIR/.env (array-backed: the process environment is left alone); prints
// the named variables as JSON. usage: php php_reader.php DIR NAME...
foreach (['/usr/share/php/Dotenv/autoload.php', __DIR__ . '/vendor/autoload.php'] as $a) {
    if (is_file($a)) { require $a; break; }
}
$dir = $argv[1];
$names = array_slice($argv, 2);
$got = Dotenv\Dotenv::createArrayBacked($dir)->load();
$out = new stdClass();
foreach ($names as $n) { if (array_key_exists($n, $got)) { $out->$n = $got[$n]; } }
echo json_encode($out, JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES);
