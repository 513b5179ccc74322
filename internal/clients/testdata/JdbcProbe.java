// JdbcProbe runs a script of JDBC steps against one PostgreSQL URL and
// prints one JSON object per step on stdout. It is compiled and run by
// hoop.dev/hoop/internal/clients; see jdbc.go there for the script format.
//
// Usage: java -cp DIR:postgresql.jar JdbcProbe URL USER PASSWORD < script
//
// A script line is a step: fields separated by tabs, each field escaped
// with \\ \t \n \r. Steps:
//   connect PARAMS          (re)connect; PARAMS ("a=b&c=d", may be empty) is appended to URL
//   query SQL               Statement.execute; rows or update count
//   prepare NAME SQL        Connection.prepareStatement (nothing is sent yet)
//   exec NAME ARG...        bind ARGs (i:42 l:42 s:text b:true n:) and execute
//   addbatch NAME ARG...    bind ARGs and addBatch
//   execbatch NAME          executeBatch; update counts
//   sbatch SQL...           Statement.addBatch for each SQL, then executeBatch
//   digest SQL              Statement.executeQuery; row count and SHA-256 of the values
//   fetchsize N             setFetchSize(N) on statements created or executed afterwards
//   querytimeout N          setQueryTimeout(N seconds) likewise (the driver cancels the query)
//   autocommit on|off
//   commit | rollback
//   close NAME              close a prepared statement
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.sql.BatchUpdateException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

public class JdbcProbe {
    private final String url, user, password;
    private final PrintStream out;
    private Connection conn;
    private final Map<String, PreparedStatement> prepared = new HashMap<>();
    private int fetchSize, queryTimeout;

    JdbcProbe(String url, String user, String password, PrintStream out) {
        this.url = url;
        this.user = user;
        this.password = password;
        this.out = out;
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: JdbcProbe URL USER PASSWORD < script");
            System.exit(2);
        }
        PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
        JdbcProbe p = new JdbcProbe(args[0], args[1], args[2], out);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        int step = 0;
        while ((line = in.readLine()) != null) {
            if (line.isEmpty()) {
                continue;
            }
            step++;
            p.run(step, split(line));
            out.flush();
        }
        if (p.conn != null) {
            p.conn.close();
        }
        out.flush();
    }

    static String[] split(String line) {
        String[] f = line.split("\t", -1);
        for (int i = 0; i < f.length; i++) {
            f[i] = unescape(f[i]);
        }
        return f;
    }

    static String unescape(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c != '\\' || i + 1 == s.length()) {
                b.append(c);
                continue;
            }
            char n = s.charAt(++i);
            switch (n) {
                case 't': b.append('\t'); break;
                case 'n': b.append('\n'); break;
                case 'r': b.append('\r'); break;
                default: b.append(n);
            }
        }
        return b.toString();
    }

    void run(int step, String[] f) {
        Json j = new Json();
        j.field("step").num(step).field("op").str(f[0]);
        switch (f[0]) {
            case "query": case "digest":
                j.field("sql").str(f[1]);
                break;
            case "prepare":
                j.field("name").str(f[1]).field("sql").str(f[2]);
                break;
            case "exec": case "addbatch": case "execbatch": case "close":
                j.field("name").str(f[1]);
                break;
            default:
                if (f.length > 1) {
                    j.field("arg").str(f[1]);
                }
        }
        try {
            switch (f[0]) {
                case "connect": {
                    if (conn != null) {
                        conn.close();
                        prepared.clear();
                    }
                    String u = url;
                    if (f.length > 1 && !f[1].isEmpty()) {
                        u += (u.contains("?") ? "&" : "?") + f[1];
                    }
                    conn = DriverManager.getConnection(u, user, password);
                    break;
                }
                case "query": {
                    Statement st = conn.createStatement();
                    tune(st);
                    boolean rs = st.execute(f[1]);
                    result(j, st, rs);
                    st.close();
                    break;
                }
                case "prepare":
                    prepared.put(f[1], conn.prepareStatement(f[2]));
                    break;
                case "exec": {
                    PreparedStatement ps = stmt(f[1]);
                    bind(ps, f);
                    tune(ps);
                    result(j, ps, ps.execute());
                    break;
                }
                case "addbatch": {
                    PreparedStatement ps = stmt(f[1]);
                    bind(ps, f);
                    ps.addBatch();
                    break;
                }
                case "execbatch":
                    counts(j, stmt(f[1]).executeBatch());
                    break;
                case "sbatch": {
                    Statement st = conn.createStatement();
                    for (int i = 1; i < f.length; i++) {
                        st.addBatch(f[i]);
                    }
                    counts(j, st.executeBatch());
                    st.close();
                    break;
                }
                case "digest": {
                    Statement st = conn.createStatement();
                    tune(st);
                    ResultSet rs = st.executeQuery(f[1]);
                    MessageDigest md = MessageDigest.getInstance("SHA-256");
                    int cols = rs.getMetaData().getColumnCount();
                    long rows = 0;
                    while (rs.next()) {
                        rows++;
                        for (int c = 1; c <= cols; c++) {
                            String v = rs.getString(c);
                            md.update((v == null ? "\\N" : v).getBytes(StandardCharsets.UTF_8));
                            md.update((byte) (c == cols ? '\n' : '\t'));
                        }
                    }
                    rs.close();
                    st.close();
                    j.field("count").num(rows).field("sha256").str(hex(md.digest()));
                    break;
                }
                case "fetchsize":
                    fetchSize = Integer.parseInt(f[1]);
                    break;
                case "querytimeout":
                    queryTimeout = Integer.parseInt(f[1]);
                    break;
                case "autocommit":
                    conn.setAutoCommit(f[1].equals("on"));
                    break;
                case "commit":
                    conn.commit();
                    break;
                case "rollback":
                    conn.rollback();
                    break;
                case "close":
                    stmt(f[1]).close();
                    prepared.remove(f[1]);
                    break;
                default:
                    throw new IllegalArgumentException("unknown step " + f[0]);
            }
            j.field("ok").bool(true);
        } catch (SQLException e) {
            j.field("ok").bool(false);
            if (e instanceof BatchUpdateException) {
                counts(j, ((BatchUpdateException) e).getUpdateCounts());
                if (e.getNextException() != null) {
                    e = e.getNextException();
                }
            }
            j.field("sqlstate").str(e.getSQLState()).field("message").str(e.getMessage());
            if (e.getCause() != null) {
                j.field("cause").str(e.getCause().toString());
            }
        } catch (Exception e) {
            j.field("ok").bool(false).field("message").str(e.toString());
        }
        out.println(j.end());
    }

    void tune(Statement st) throws SQLException {
        st.setFetchSize(fetchSize);
        st.setQueryTimeout(queryTimeout);
    }

    PreparedStatement stmt(String name) {
        PreparedStatement ps = prepared.get(name);
        if (ps == null) {
            throw new IllegalArgumentException("no prepared statement " + name);
        }
        return ps;
    }

    static void bind(PreparedStatement ps, String[] f) throws SQLException {
        for (int i = 2; i < f.length; i++) {
            String a = f[i];
            String v = a.length() >= 2 ? a.substring(2) : "";
            switch (a.charAt(0)) {
                case 'i': ps.setInt(i - 1, Integer.parseInt(v)); break;
                case 'l': ps.setLong(i - 1, Long.parseLong(v)); break;
                case 's': ps.setString(i - 1, v); break;
                case 'b': ps.setBoolean(i - 1, Boolean.parseBoolean(v)); break;
                case 'n': ps.setNull(i - 1, java.sql.Types.NULL); break;
                default: throw new IllegalArgumentException("bad argument " + a);
            }
        }
    }

    static void result(Json j, Statement st, boolean hasRows) throws SQLException {
        if (!hasRows) {
            j.field("update").num(st.getUpdateCount());
            return;
        }
        ResultSet rs = st.getResultSet();
        ResultSetMetaData md = rs.getMetaData();
        int cols = md.getColumnCount();
        j.field("columns").open('[');
        for (int c = 1; c <= cols; c++) {
            j.str(md.getColumnLabel(c));
        }
        j.close(']').field("rows").open('[');
        while (rs.next()) {
            j.open('[');
            for (int c = 1; c <= cols; c++) {
                String v = rs.getString(c);
                if (v == null) {
                    j.raw("null");
                } else {
                    j.str(v);
                }
            }
            j.close(']');
        }
        j.close(']');
        rs.close();
    }

    static void counts(Json j, int[] counts) {
        j.field("counts").open('[');
        for (int c : counts) {
            j.num(c);
        }
        j.close(']');
    }

    static String hex(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (byte x : b) {
            s.append(String.format("%02x", x));
        }
        return s.toString();
    }

    /** Json writes one object; values are separated by commas as needed. */
    static final class Json {
        private final StringBuilder b = new StringBuilder("{");
        private boolean first = true;

        private void sep() {
            if (!first) {
                b.append(',');
            }
            first = false;
        }

        Json field(String name) {
            sep();
            quote(name);
            b.append(':');
            first = true;
            return this;
        }

        Json str(String s) {
            sep();
            if (s == null) {
                b.append("null");
            } else {
                quote(s);
            }
            return this;
        }

        Json num(long n) {
            sep();
            b.append(n);
            return this;
        }

        Json bool(boolean v) {
            sep();
            b.append(v);
            return this;
        }

        Json raw(String s) {
            sep();
            b.append(s);
            return this;
        }

        Json open(char c) {
            sep();
            b.append(c);
            first = true;
            return this;
        }

        Json close(char c) {
            b.append(c);
            first = false;
            return this;
        }

        String end() {
            return b.append('}').toString();
        }

        private void quote(String s) {
            b.append('"');
            for (int i = 0; i < s.length(); i++) {
                char c = s.charAt(i);
                switch (c) {
                    case '"': b.append("\\\""); break;
                    case '\\': b.append("\\\\"); break;
                    case '\n': b.append("\\n"); break;
                    case '\r': b.append("\\r"); break;
                    case '\t': b.append("\\t"); break;
                    default:
                        if (c < 0x20) {
                            b.append(String.format("\\u%04x", (int) c));
                        } else {
                            b.append(c);
                        }
                }
            }
            b.append('"');
        }
    }
}
