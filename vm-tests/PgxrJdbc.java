// PgxrJdbc.java: a JDBC client through the VIP, run as a single source file by the lab tests
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.Properties;

public class PgxrJdbc {
    // args: VIP PORT; prints "NODE IN_RECOVERY CLIENT_ADDR" as PostgreSQL sees them
    public static void main(String[] args) throws Exception {
        Properties p = new Properties();
        p.setProperty("user", "postgres");
        p.setProperty("password", System.getenv("PGPASSWORD"));
        p.setProperty("connectTimeout", "5");
        String url = "jdbc:postgresql://" + args[0] + ":" + args[1] + "/postgres";
        try (Connection c = DriverManager.getConnection(url, p);
             Statement s = c.createStatement();
             ResultSet r = s.executeQuery("SELECT current_setting('cluster_name'), "
                     + "pg_is_in_recovery(), host(inet_client_addr())")) {
            r.next();
            System.out.println(r.getString(1) + " " + r.getBoolean(2) + " " + r.getString(3));
        }
    }
}
