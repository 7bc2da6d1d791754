#include "sql/testing/postgres_server.hpp"

#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace dermaga::sql::testing {

namespace {

std::uint16_t free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
        throw std::runtime_error("cannot pick a free port");
    }
    ::close(fd);
    return ntohs(a.sin_port);
}

std::string tail(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    auto s = ss.str();
    return s.size() > 2000 ? s.substr(s.size() - 2000) : s;
}

/// The PID in the first line of postmaster.pid; 0 when the server is not running.
pid_t postmaster_pid(const std::string& data) {
    std::ifstream in(data + "/postmaster.pid");
    long pid = 0;
    return in >> pid ? static_cast<pid_t>(pid) : 0;
}

}  // namespace

PostgresServer& PostgresServer::shared() {
    static std::unique_ptr<PostgresServer> server;
    static std::once_flag once;
    std::call_once(once, [] { server = std::make_unique<PostgresServer>(); });
    return *server;
}

void PostgresServer::run(const std::vector<std::string>& argv, const std::string& what) const {
    std::vector<std::string> full;
    if (as_postgres_) {
        full = {"runuser", "-u", "postgres", "--"};
    }
    full.insert(full.end(), argv.begin(), argv.end());
    std::vector<char*> args;
    for (auto& a : full) {
        args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    const std::string log = dir_ + "/" + what + ".log";
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid = 0;
    int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    int status = 0;
    if (rc != 0 || ::waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        throw std::runtime_error("PostgreSQL test server: " + what + " failed:\n" + tail(log) + tail(dir_ + "/server.log"));
    }
}

PostgresServer::PostgresServer() {
    const char* bin = std::getenv("DERMAGA_PG_BIN");
    bin_ = bin && *bin ? bin : "/usr/lib/postgresql/15/bin";
    if (::access((bin_ + "/initdb").c_str(), X_OK) != 0) {
        throw std::runtime_error("PostgreSQL test server: no " + bin_ + "/initdb (Debian package postgresql)");
    }
    std::string tmpl = "/tmp/dermaga-pg-XXXXXX";
    if (!::mkdtemp(tmpl.data())) {
        throw std::runtime_error("PostgreSQL test server: mkdtemp failed");
    }
    dir_ = tmpl;
    as_postgres_ = ::geteuid() == 0;
    if (as_postgres_) {
        const passwd* pw = ::getpwnam("postgres");
        if (!pw || ::chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
            throw std::runtime_error("PostgreSQL test server: no postgres user to own " + dir_);
        }
        ::chmod(dir_.c_str(), 0755);
    }
    // The watchdog waits for EOF on a pipe only this process holds (close-on-exec keeps it
    // from initdb, pg_ctl and the server): when we go, however we go, it stops the server by
    // the PID in postmaster.pid and removes the directory.
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        throw std::runtime_error("PostgreSQL test server: pipe failed");
    }
    const std::string script =
        "cat >/dev/null; d='" + dir_ + "'; p=$(head -n1 \"$d/data/postmaster.pid\" 2>/dev/null); "
        "if [ -n \"$p\" ]; then kill -INT \"$p\" 2>/dev/null; i=0; "
        "while kill -0 \"$p\" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; "
        "kill -KILL \"$p\" 2>/dev/null; fi; rm -rf \"$d\"";
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[0], 0);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);  // out of the test's process group
    const char* argv[] = {"/bin/sh", "-c", script.c_str(), nullptr};
    pid_t pid = 0;
    int rc = posix_spawn(&pid, "/bin/sh", &fa, &attr, const_cast<char**>(argv), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    ::close(fds[0]);
    if (rc != 0) {
        ::close(fds[1]);
        throw std::runtime_error("PostgreSQL test server: cannot start the watchdog");
    }
    watchdog_fd_ = fds[1];
    watchdog_pid_ = pid;
    run({bin_ + "/initdb", "-D", dir_ + "/data", "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8",
         "--no-sync", "--no-instructions"},
        "initdb");
    start();
}

void PostgresServer::start() {
    for (int attempt = 0;; ++attempt) {
        if (port_ == 0 || attempt > 0) {
            port_ = free_port();
        }
        const std::string opts = "-k " + dir_ + "/data -p " + std::to_string(port_) +
                                 " -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
                                 " -c full_page_writes=off -c max_connections=300 -c shared_buffers=32MB -c deadlock_timeout=100ms";
        try {
            run({bin_ + "/pg_ctl", "-D", dir_ + "/data", "-l", dir_ + "/server.log", "-w", "-t", "60", "-o", opts,
                 "start"},
                "pg_ctl");
            return;
        } catch (const std::runtime_error&) {
            if (attempt == 2) {
                throw;
            }
        }
    }
}

void PostgresServer::stop() {
    const pid_t pid = postmaster_pid(dir_ + "/data");
    if (pid <= 0 || ::kill(pid, SIGINT) != 0) {
        return;
    }
    for (int i = 0; i < 300 && ::kill(pid, 0) == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid, SIGKILL);
    for (int i = 0; i < 100 && ::kill(pid, 0) == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

PostgresServer::~PostgresServer() {
    stop();
    if (watchdog_fd_ >= 0) {
        ::close(watchdog_fd_);  // the watchdog removes the directory and exits
        int status = 0;
        ::waitpid(watchdog_pid_, &status, 0);
    }
}

std::string PostgresServer::dsn(const std::string& db) const {
    return "host=127.0.0.1 port=" + std::to_string(port_) + " user=postgres dbname=" + db;
}

void PostgresServer::admin(const std::string& sql) const { admin_in("postgres", sql); }

void PostgresServer::admin_in(const std::string& db, const std::string& sql) const {
    std::unique_ptr<PGconn, decltype(&PQfinish)> c(PQconnectdb(dsn(db).c_str()), &PQfinish);
    if (PQstatus(c.get()) != CONNECTION_OK) {
        throw std::runtime_error("PostgreSQL test server: " + std::string(PQerrorMessage(c.get())));
    }
    std::unique_ptr<PGresult, decltype(&PQclear)> r(PQexec(c.get(), sql.c_str()), &PQclear);
    const auto st = PQresultStatus(r.get());
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        throw std::runtime_error("PostgreSQL test server: " + sql + ": " + PQresultErrorMessage(r.get()));
    }
}

std::string PostgresServer::create_database() {
    const std::string name = "t" + std::to_string(++next_db_);
    admin("CREATE DATABASE " + name +
          " TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'");
    return dsn(name);
}

void PostgresServer::drop_database(const std::string& dsn) {
    const auto at = dsn.rfind("dbname=");
    admin("DROP DATABASE IF EXISTS " + dsn.substr(at + 7) + " WITH (FORCE)");
}

namespace {
constexpr const char* shared_db = "schemas";
}

std::string PostgresServer::create_schema() {
    std::call_once(shared_db_, [&] {
        admin(std::string("CREATE DATABASE ") + shared_db +
              " TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'");
    });
    const std::string name = "s" + std::to_string(++next_db_);
    admin_in(shared_db, "CREATE SCHEMA " + name);
    return dsn(shared_db) + " options=-csearch_path=" + name;
}

void PostgresServer::drop_schema(const std::string& dsn) {
    const auto at = dsn.rfind("search_path=");
    admin_in(shared_db, "DROP SCHEMA IF EXISTS " + dsn.substr(at + 12) + " CASCADE");
}

}  // namespace dermaga::sql::testing
