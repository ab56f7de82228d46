<?php
// Shared by the examples: one CometQL connection, configured by environment variables.
// From the command line, arguments are name=value pairs: php call.php room=101 users=1,2,3
if (PHP_SAPI === 'cli') {
    parse_str(implode('&', array_slice($argv, 1)), $_GET);
}

function cometql(): mysqli
{
    mysqli_report(MYSQLI_REPORT_OFF);
    $link = mysqli_connect(
        getenv('COMETQL_HOST') ?: '127.0.0.1',
        getenv('COMETQL_DEV_ID') ?: 'root',          // the MySQL user name is the dev_id
        getenv('COMETQL_PASSWORD') ?: 'CometQLPassword',
        'CometQL_v1',
        (int)(getenv('COMETQL_PORT') ?: 3300)
    );
    if (!$link) {
        reply(['error' => 'cannot connect to CometQL: ' . mysqli_connect_error()], 502);
    }
    return $link;
}

function query(mysqli $link, string $sql)
{
    $result = mysqli_query($link, $sql);
    if ($result === false) {
        reply(['error' => mysqli_error($link), 'code' => mysqli_errno($link)], 400);
    }
    return $result;
}

function reply(array $body, int $status = 200): void
{
    if (PHP_SAPI !== 'cli') {
        http_response_code($status);
        header('Content-Type: application/json');
    }
    echo json_encode($body), "\n";
    exit($status === 200 ? 0 : 1);
}

function user_ids(string $list): array
{
    return array_values(array_filter(array_map('intval', explode(',', $list)), fn ($id) => $id > 0));
}
