// PgxrJdbc.java: a JDBC client through the VIP, run as a single source file by the lab tests
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.Properties;

public class PgxrJdbc {
    // args: VIP PORT [prepared | txsplit BASE | dml BASE]; prints "NODE IN_RECOVERY CLIENT_ADDR" as
    // PostgreSQL sees them, or with "prepared": "SUM NAMED_STATEMENTS BATCH_ROWS" after a statement
    // run past prepareThreshold (the driver then uses a named server-side statement) and a batch
    // insert, or with "txsplit": see txsplit(), with "dml": see dml()
    public static void main(String[] args) throws Exception {
        Properties p = new Properties();
        p.setProperty("user", "postgres");
        p.setProperty("password", System.getenv("PGPASSWORD"));
        p.setProperty("connectTimeout", "5");
        p.setProperty("prepareThreshold", "3");
        String url = "jdbc:postgresql://" + args[0] + ":" + args[1] + "/postgres";
        try (Connection c = DriverManager.getConnection(url, p)) {
            if (args.length > 2 && args[2].equals("prepared")) {
                prepared(c);
                return;
            }
            if (args.length > 3 && args[2].equals("txsplit")) {
                txsplit(c, Integer.parseInt(args[3]));
                return;
            }
            if (args.length > 3 && args[2].equals("dml")) {
                dml(c, Integer.parseInt(args[3]));
                return;
            }
            try (Statement s = c.createStatement();
                 ResultSet r = s.executeQuery("SELECT current_setting('cluster_name'), "
                         + "pg_is_in_recovery(), host(inet_client_addr())")) {
                r.next();
                System.out.println(r.getString(1) + " " + r.getBoolean(2) + " " + r.getString(3));
            }
        }
    }

    static void prepared(Connection c) throws Exception {
        long sum = 0;
        try (PreparedStatement ps = c.prepareStatement("SELECT ?::int * 2")) {
            for (int i = 1; i <= 10; i++) {
                ps.setInt(1, i);
                try (ResultSet r = ps.executeQuery()) {
                    r.next();
                    sum += r.getInt(1);
                }
            }
        }
        int named;
        try (Statement s = c.createStatement();
             ResultSet r = s.executeQuery("SELECT count(*) FROM pg_prepared_statements "
                     + "WHERE statement LIKE 'SELECT $1::int * 2%'")) {
            r.next();
            named = r.getInt(1);
        }
        int rows;
        c.setAutoCommit(false);
        try (Statement s = c.createStatement()) {
            s.execute("CREATE TEMP TABLE tj (id int)");
        }
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO tj VALUES (?)")) {
            for (int i = 0; i < 100; i++) {
                ps.setInt(1, i);
                ps.addBatch();
            }
            ps.executeBatch();
        }
        c.commit();
        try (Statement s = c.createStatement(); ResultSet r = s.executeQuery("SELECT count(*) FROM tj")) {
            r.next();
            rows = r.getInt(1);
        }
        System.out.println(sum + " " + named + " " + rows);
    }

    // autoCommit off, 20 transactions of prepared statements (named past prepareThreshold): each
    // reads row BASE + i, adds one to it and reads it again; then a transaction reads 50 rows
    // 10 at a time (setFetchSize: a portal fetched again); prints "FIRST_NODES SECOND_NODES
    // OWN_WRITES FETCHED", the nodes as "name=count,..." in order of name
    static void txsplit(Connection c, int base) throws Exception {
        java.util.TreeMap<String, Integer> first = new java.util.TreeMap<>();
        java.util.TreeMap<String, Integer> second = new java.util.TreeMap<>();
        int own = 0;
        c.setAutoCommit(false);
        try (PreparedStatement read = c.prepareStatement(
                 "SELECT n, current_setting('cluster_name'), 'mk_jr' FROM split_tx WHERE id = ?");
             PreparedStatement write = c.prepareStatement(
                 "UPDATE split_tx SET n = n + 1 WHERE id = ? -- mk_jw")) {
            for (int i = 0; i < 20; i++) {
                int before, after;
                read.setInt(1, base + i);
                try (ResultSet r = read.executeQuery()) {
                    r.next();
                    before = r.getInt(1);
                    first.merge(r.getString(2), 1, Integer::sum);
                }
                write.setInt(1, base + i);
                write.executeUpdate();
                try (ResultSet r = read.executeQuery()) {
                    r.next();
                    after = r.getInt(1);
                    second.merge(r.getString(2), 1, Integer::sum);
                }
                c.commit();
                if (after == before + 1)
                    own++;
            }
        }
        int fetched = 0;
        try (Statement s = c.createStatement()) {
            s.setFetchSize(10);
            try (ResultSet r = s.executeQuery("SELECT n, 'mk_jf' FROM split_tx WHERE id BETWEEN "
                    + base + " AND " + (base + 49))) {
                while (r.next())
                    fetched++;
            }
        }
        c.commit();
        System.out.println(join(first) + " " + join(second) + " " + own + " " + fetched);
    }

    // dml_adaptive: 20 transactions (autoCommit false, prepared statements past prepareThreshold),
    // each an update of dml_b's row base + i, then reads of dml_a's and dml_b's rows; prints where
    // the dml_a reads ran, where the dml_b reads ran, how many dml_b reads saw the update, and how
    // many rows a fetch of 10 at a time (a portal) got in a transaction that wrote
    static void dml(Connection c, int base) throws Exception {
        java.util.TreeMap<String, Integer> other = new java.util.TreeMap<>();
        java.util.TreeMap<String, Integer> written = new java.util.TreeMap<>();
        int own = 0;
        c.setAutoCommit(false);
        try (PreparedStatement write = c.prepareStatement(
                 "UPDATE dml_b SET n = n + 1 WHERE id = ? -- mk_jdw");
             PreparedStatement readA = c.prepareStatement(
                 "SELECT n, current_setting('cluster_name'), 'mk_jda' FROM dml_a WHERE id = ?");
             PreparedStatement readB = c.prepareStatement(
                 "SELECT n, current_setting('cluster_name'), 'mk_jdb' FROM dml_b WHERE id = ?")) {
            for (int i = 0; i < 20; i++) {
                write.setInt(1, base + i);
                write.executeUpdate();
                readA.setInt(1, base + i);
                try (ResultSet r = readA.executeQuery()) {
                    r.next();
                    other.merge(r.getString(2), 1, Integer::sum);
                }
                readB.setInt(1, base + i);
                try (ResultSet r = readB.executeQuery()) {
                    r.next();
                    written.merge(r.getString(2), 1, Integer::sum);
                    if (r.getInt(1) == 1)
                        own++;
                }
                c.commit();
            }
        }
        int fetched = 0;
        try (Statement s = c.createStatement()) {
            s.executeUpdate("UPDATE dml_b SET n = n WHERE id = " + base + " -- mk_jdf");
            s.setFetchSize(10);
            try (ResultSet r = s.executeQuery("SELECT n, 'mk_jdf' FROM dml_a WHERE id BETWEEN "
                    + base + " AND " + (base + 49))) {
                while (r.next())
                    fetched++;
            }
        }
        c.commit();
        System.out.println(join(other) + " " + join(written) + " " + own + " " + fetched);
    }

    static String join(java.util.Map<String, Integer> m) {
        StringBuilder b = new StringBuilder();
        for (java.util.Map.Entry<String, Integer> e : m.entrySet())
            b.append(b.length() > 0 ? "," : "").append(e.getKey()).append("=").append(e.getValue());
        return b.toString();
    }
}
