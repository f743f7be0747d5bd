// pgnode.js: node-postgres (npm pg) through a lab port: queries, a transaction, named prepared
// statements, LISTEN/NOTIFY and an error; prints one JSON object.  With "txsplit BASE": 20
// transactions, each reads row BASE + i of split_tx, adds one to it and reads it again
const { Client } = require('pg');

async function txsplit(c, base) {
  const out = { first: {}, second: {}, own_write: 0 };
  for (let i = 0; i < 20; i++) {
    await c.query('BEGIN');
    const read = { name: 'txread', values: [base + i],
      text: "SELECT n, current_setting('cluster_name') AS node, 'mk_nr' FROM split_tx WHERE id = $1" };
    const a = (await c.query(read)).rows[0];
    await c.query('UPDATE split_tx SET n = n + 1 WHERE id = $1 -- mk_nw', [base + i]);
    const b = (await c.query(read)).rows[0];
    await c.query('COMMIT');
    out.first[a.node] = (out.first[a.node] || 0) + 1;
    out.second[b.node] = (out.second[b.node] || 0) + 1;
    if (b.n === a.n + 1)
      out.own_write++;
  }
  return out;
}

async function main() {
  const port = Number(process.argv[2]);
  const opts = {
    host: process.env.LAB_VIP, port, user: 'postgres', database: 'postgres',
    password: process.env.PGPASSWORD, connectionTimeoutMillis: 5000,
  };
  if (process.argv[3] === 'txsplit') {
    const c = new Client(opts);
    await c.connect();
    console.log(JSON.stringify(await txsplit(c, Number(process.argv[4]))));
    await c.end();
    return;
  }
  const a = new Client(opts);
  const b = new Client(opts);
  await a.connect();
  await b.connect();
  const out = {};
  out.server = (await a.query("SELECT current_setting('cluster_name') AS s")).rows[0].s;
  await a.query('CREATE TEMP TABLE tn (id int, v text)');
  await a.query('BEGIN');
  await a.query('INSERT INTO tn VALUES ($1, $2)', [1, 'one']);
  await a.query('ROLLBACK');
  await a.query('BEGIN');
  await a.query('INSERT INTO tn VALUES ($1, $2)', [2, 'two']);
  await a.query('COMMIT');
  out.rows = (await a.query('SELECT id, v FROM tn ORDER BY id')).rows;
  // a named statement is parsed once and reused: the server keeps it
  let sum = 0;
  for (let i = 0; i < 10; i++)
    sum += (await a.query({ name: 'plus', text: 'SELECT $1::int + 1 AS n', values: [i] })).rows[0].n;
  out.prepared_sum = sum;
  out.prepared_on_server = Number((await a.query(
    "SELECT count(*) AS n FROM pg_prepared_statements WHERE name = 'plus'")).rows[0].n);
  try {
    await a.query('SELECT 1/0');
  } catch (e) {
    out.error = e.code;
  }
  out.after_error = (await a.query('SELECT 7 AS n')).rows[0].n;
  const heard = new Promise((resolve) => a.on('notification', (m) => resolve(m.payload)));
  await a.query('LISTEN pgxr_chan');
  await b.query("NOTIFY pgxr_chan, 'hello'");
  out.notification = await Promise.race([heard,
    new Promise((resolve) => setTimeout(() => resolve(null), 3000))]);
  await a.end();
  await b.end();
  console.log(JSON.stringify(out));
}

main().catch((e) => { console.log(JSON.stringify({ failed: String(e) })); process.exit(1); });
