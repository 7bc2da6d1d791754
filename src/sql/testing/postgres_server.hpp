#pragma once
// A private PostgreSQL 15 for tests: `initdb` into a fresh temporary directory (run as the
// `postgres` user, owning it, when the tests run as root), `pg_ctl start` on a free 127.0.0.1
// port with the socket directory inside the data directory. Stopped by its PID when destroyed;
// a watchdog process also stops it and removes the directory if the test process dies first.
// Binaries: $DERMAGA_PG_BIN, else /usr/lib/postgresql/15/bin (Debian's `postgresql`).

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace dermaga::sql::testing {

class PostgresServer {
public:
    /// initdb + start. Throws std::runtime_error with the tail of the server log on failure.
    PostgresServer();
    ~PostgresServer();
    PostgresServer(const PostgresServer&) = delete;
    PostgresServer& operator=(const PostgresServer&) = delete;

    /// The one server of this test process, started at first use and stopped at exit.
    static PostgresServer& shared();

    std::uint16_t port() const { return port_; }
    /// libpq connection string for database `db`.
    std::string dsn(const std::string& db = "postgres") const;
    /// Creates a new empty database and returns its connection string. Its default collation
    /// is ICU en-US (where "B" sorts after "a"), so a query that relied on the database's
    /// collation for byte order would fail the tests. Throws on failure.
    std::string create_database();
    /// Drops a database made by create_database (closing its sessions). Throws on failure.
    void drop_database(const std::string& dsn);
    /// Creates a new empty schema in one shared database (made at first use like
    /// create_database's) and returns a connection string whose search_path is that schema:
    /// as fresh as a new database for unqualified SQL, at a fraction of the cost (CREATE
    /// DATABASE copies a template: a few hundred ms). For suites that need hundreds.
    std::string create_schema();
    /// Drops a schema made by create_schema with everything in it. Throws on failure.
    void drop_schema(const std::string& dsn);
    /// Runs `sql` as the superuser in database "postgres". Throws on failure.
    void admin(const std::string& sql) const;

    /// Stops the server by PID (fast shutdown) and waits until it is gone; start() brings it
    /// back on the same port with the same data. For tests of an unreachable database.
    void stop();
    void start();

private:
    void run(const std::vector<std::string>& argv, const std::string& what) const;
    void admin_in(const std::string& db, const std::string& sql) const;

    std::string dir_;
    std::string bin_;
    std::uint16_t port_ = 0;
    int watchdog_fd_ = -1;
    int watchdog_pid_ = -1;
    bool as_postgres_ = false;
    std::atomic<int> next_db_{0};
    std::once_flag shared_db_;
};

}  // namespace dermaga::sql::testing
