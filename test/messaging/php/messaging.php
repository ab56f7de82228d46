<?php
// CppComet's messaging flows from PHP mysqli, printing one JSON line per step for the test to check.
mysqli_report(MYSQLI_REPORT_OFF);
$link = mysqli_connect('127.0.0.1', 'root', 'CometQLPassword', 'CometQL_v1', (int)getenv('COMETQL_PORT'));
$out = fn ($value) => print(json_encode($value) . "\n");
$rows = function (string $sql) use ($link): array {
    $result = mysqli_query($link, $sql);
    if ($result === false) return ['errno' => mysqli_errno($link), 'error' => mysqli_error($link)];
    $rows = [];
    while ($row = mysqli_fetch_assoc($result)) $rows[] = $row;
    return $rows;
};
$affected = function (string $sql) use ($link) {
    return mysqli_query($link, $sql) ? mysqli_affected_rows($link) : ['errno' => mysqli_errno($link), 'error' => mysqli_error($link)];
};

switch ($argv[1] ?? '') {
    case 'users-messages':
        // CppComet's test_2_users_messages, for an offline user; the message ends in a stray `'` as php-messages-demo sent it.
        $affected("DELETE FROM users_messages WHERE id = 99955;");
        $message = mysqli_real_escape_string($link, json_encode(['rand' => 'it\'s "0.5"']));
        $out($affected("INSERT INTO users_messages (id, event, message)VALUES (99955, 'test1_users_messages', '$message');'"));
        $out($rows("select * from users_messages where id = 99955"));
        $out($affected("DELETE FROM users_messages WHERE id = 99955;"));
        $out($rows("select * from users_messages where id = 99955"));
        break;

    case 'users-time':
        $out($rows("select * from users_time where id in(1, 3, 99996);"));
        break;

    case 'users-data':
        $data = mysqli_real_escape_string($link, json_encode(['rand' => '0.25']));
        $out($affected("insert into users_data(id, data)VALUES(\"9997\", '$data');"));
        $out($rows("select * from users_data where id = 9997"));
        break;

    case 'history':
        $out($affected('INSERT INTO pipes_settings ("name", "length") VALUES ("test_pipelog", 2);'));
        foreach (['one', 'two', 'three'] as $text) $affected("insert into pipes_messages(name, event, message)VALUES(\"test_pipelog\", \"e1\", '$text');");
        $out($rows('SELECT name, event, message FROM pipes_messages WHERE name = "test_pipelog"'));
        $out($rows('SELECT * FROM pipes_settings WHERE name = "test_pipelog"'));
        break;

    case 'publish':
        // publish <pipe> <event> <message>: what a backend does to talk to a chat.
        [, , $pipe, $event, $message] = $argv;
        $message = mysqli_real_escape_string($link, $message);
        $out($affected("INSERT INTO pipes_messages (name, event, message) VALUES ('$pipe', '$event', '$message')"));
        break;
}
