// PgxrJdbc.java: a JDBC client through the VIP, run as a single source file by the lab tests
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.Properties;

public class PgxrJdbc {
    // args: VIP PORT [prepared]; prints "NODE IN_RECOVERY CLIENT_ADDR" as PostgreSQL sees them,
    // or with "prepared": "SUM NAMED_STATEMENTS BATCH_ROWS" after a statement run past
    // prepareThreshold (the driver then uses a named server-side statement) and a batch insert
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
}
