<?php
// CppComet-era PHP flows against CometQL, printing one JSON line per step for the test to check.
mysqli_report(MYSQLI_REPORT_OFF);
$port = (int)getenv('COMETQL_PORT');
$step = $argv[1] ?? '';
$out = fn ($value) => print(json_encode($value) . "\n");

function result_rows($result): array
{
    $rows = [];
    while ($row = mysqli_fetch_assoc($result)) $rows[] = $row;
    return $rows;
}

switch ($step) {
    case 'wrong-password':
        $link = @mysqli_connect('127.0.0.1', 'root', 'not-the-password', 'CometQL_v1', $port);
        $out(['connected' => (bool)$link, 'errno' => mysqli_connect_errno(), 'error' => mysqli_connect_error()]);
        break;

    case 'errors':
        // A bad query gets an ERR packet and the same connection keeps working.
        $link = mysqli_connect('127.0.0.1', 'root', 'CometQLPassword', 'CometQL_v1', $port);
        foreach (["SELECT * FROM no_such_table", "SELEKT * FROM conference", "SELECT * FROM conference WHERE nme = '1'",
                  "INSERT INTO conference (name, user_id) VALUES ('101', 5)", "SELECT * FROM users_auth"] as $sql) {
            $ok = mysqli_query($link, $sql);
            $out(['ok' => $ok !== false, 'errno' => mysqli_errno($link), 'error' => mysqli_error($link), 'sqlstate' => mysqli_sqlstate($link)]);
        }
        $out(['after' => mysqli_fetch_row(mysqli_query($link, 'SELECT 1'))[0]]);
        break;

    case 'escaping':
        // PHP escapes with backslashes; older CppComet clients doubled quotes. Both must round-trip.
        $link = mysqli_connect('127.0.0.1', 'root', 'CometQLPassword', 'CometQL_v1', $port);
        $text = "it's a \"test\" with \\ backslash";
        mysqli_query($link, "INSERT INTO conference (name, user_id, message) VALUES ('esc', 1, '" . mysqli_real_escape_string($link, $text) . "')");
        mysqli_query($link, "INSERT INTO conference (name, user_id, message) VALUES ('esc', 2, 'it''s doubled')");
        mysqli_query($link, "INSERT INTO conference (name, user_id, message) VALUES (\"esc\", 3, \"double \"\"quoted\"\"\");'");
        $out(result_rows(mysqli_query($link, "SELECT user_id, message FROM conference WHERE name = 'esc'")));
        break;

    case 'pdo':
        $pdo = new PDO("mysql:host=127.0.0.1;port=$port;dbname=CometQL_v1;charset=utf8mb4", 'root', 'CometQLPassword',
            [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION]);
        $insert = $pdo->prepare('INSERT INTO conference (name, user_id, caller_id, message, profile) VALUES (?, ?, ?, ?, ?)');
        $insert->execute(['pdo-room', 11, 10, '{"text":"O\'Reilly"}', 'video']);
        $select = $pdo->prepare('SELECT name, user_id, caller_id, message, profile FROM conference WHERE name = :name');
        $select->execute(['name' => 'pdo-room']);
        $out($select->fetchAll(PDO::FETCH_ASSOC));
        try {
            $pdo->query('SELECT * FROM missing');
        } catch (PDOException $e) {
            $out(['exception' => $e->getMessage()]);
        }
        $out(['count' => $pdo->exec("DELETE FROM conference WHERE name = 'pdo-room' AND user_id = 11")]);
        break;
}
