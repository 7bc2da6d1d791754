// The SQL layer's contract, run against both engines: typed round trips, constraint errors,
// atomic writes, snapshots, retried conflicts, row claiming and migrations. Engine-only
// behaviour (timeouts, a vanished server) follows at the end.
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <barrier>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "core/random.hpp"
#include "metrics/registry.hpp"
#include "sql/dialect.hpp"
#include "sql/migrate.hpp"
#include "sql/postgres/postgres.hpp"
#include "sql/sqlite/sqlite.hpp"
#include "sql/testing/postgres_server.hpp"

using namespace dermaga;
using namespace dermaga::sql;
using dermaga::sql::testing::PostgresServer;

namespace {

const Migration schema[] = {
    {"001_t.sql", "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, k TEXT NOT NULL UNIQUE, n INTEGER, b BLOB);"},
    {"002_q.sql", "CREATE TABLE q (id INTEGER PRIMARY KEY, done INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"},
};

struct Engine {
    const char* name;
    std::function<std::shared_ptr<Database>(const std::filesystem::path&)> make;
};

postgres::Options pg_options(std::string dsn) {
    postgres::Options o;
    o.dsn = std::move(dsn);
    o.pool_size = 8;
    o.connect_timeout = std::chrono::seconds(2);
    o.statement_timeout = std::chrono::seconds(5);
    return o;
}

class SqlContract : public ::testing::TestWithParam<Engine> {
protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() / ("dermaga-sql-" + random_hex(6));
        std::filesystem::create_directories(dir_);
        db_ = GetParam().make(dir_);
        ASSERT_EQ(migrate(*db_, schema).value_or(-1), 2);
    }
    void TearDown() override {
        db_.reset();
        std::filesystem::remove_all(dir_);
    }
    Result<void> insert(std::string_view k, std::int64_t n) {
        return db_->write<void>([&](Connection& c) -> Result<void> {
            DERMAGA_TRY(s, c.prepare("INSERT INTO t(k, n) VALUES(?1, ?2)"));
            s->bind(1, k).bind(2, n);
            DERMAGA_CHECK(s->step());
            return {};
        });
    }
    std::int64_t count(const char* sql = "SELECT COUNT(*) FROM t") {
        return db_->read<std::int64_t>([&](Connection& c) -> Result<std::int64_t> {
                      DERMAGA_TRY(s, c.prepare(sql));
                      DERMAGA_CHECK(s->step());
                      return s->int64(0);
                  })
            .value_or(-1);
    }
    bool postgres() const { return std::string(GetParam().name) == "postgres"; }

    std::filesystem::path dir_;
    std::shared_ptr<Database> db_;
};

TEST_P(SqlContract, ValuesRoundTripWithTheirKinds) {
    const std::string bytes("\0bin\xff\x01", 6);
    const std::string text = "naïve ☃ text";
    auto id = db_->write<std::int64_t>([&](Connection& c) -> Result<std::int64_t> {
        DERMAGA_TRY(s, c.prepare("INSERT INTO t(k, n, b) VALUES(?1, ?2, ?3) RETURNING id"));
        s->bind(1, text).bind(2, std::int64_t{-(std::int64_t{1} << 40)}).bind_blob(3, bytes);
        DERMAGA_TRY(row, s->step());
        EXPECT_TRUE(row);
        return s->int64(0);
    });
    ASSERT_TRUE(id) << id.error().detail;
    ASSERT_TRUE(db_->write<void>([&](Connection& c) -> Result<void> {
        DERMAGA_TRY(s, c.prepare("INSERT INTO t(k, n, b) VALUES(?1, ?2, ?3)"));
        s->bind(1, std::string_view("empty")).bind_null(2).bind_blob(3, std::string_view());
        DERMAGA_CHECK(s->step());
        return {};
    }));
    auto check = db_->read<void>([&](Connection& c) -> Result<void> {
        DERMAGA_TRY(s, c.prepare("SELECT k, n, b, id FROM t ORDER BY id"));
        DERMAGA_TRY(first, s->step());
        EXPECT_TRUE(first);
        EXPECT_EQ(s->column_count(), 4);
        EXPECT_EQ(s->column_name(1), "n");
        EXPECT_EQ(s->text(0), text);
        EXPECT_EQ(s->kind(0), Statement::Kind::text);
        EXPECT_EQ(s->int64(1), -(std::int64_t{1} << 40));
        EXPECT_EQ(s->kind(1), Statement::Kind::integer);
        EXPECT_EQ(s->text(2), bytes);
        EXPECT_EQ(s->kind(2), Statement::Kind::blob);
        DERMAGA_TRY(second, s->step());
        EXPECT_TRUE(second);
        EXPECT_TRUE(s->is_null(1));
        EXPECT_EQ(s->kind(1), Statement::Kind::null);
        EXPECT_FALSE(s->is_null(2)) << "an empty blob is not NULL";
        EXPECT_EQ(s->text(2), "");
        EXPECT_GT(s->int64(3), *id) << "ids grow";
        DERMAGA_TRY(third, s->step());
        EXPECT_FALSE(third);
        return {};
    });
    ASSERT_TRUE(check) << check.error().detail;
}

TEST_P(SqlContract, ChangesCountsAffectedRows) {
    ASSERT_TRUE(insert("a", 1));
    ASSERT_TRUE(insert("b", 1));
    ASSERT_TRUE(insert("c", 2));
    auto n = db_->write<std::int64_t>([&](Connection& c) -> Result<std::int64_t> {
        DERMAGA_TRY(s, c.prepare("UPDATE t SET n = 3 WHERE n = ?1"));
        s->bind(1, std::int64_t{1});
        DERMAGA_CHECK(s->step());
        return s->changes();
    });
    EXPECT_EQ(n.value_or(-1), 2);
}

TEST_P(SqlContract, BindingAfterAStepRunsTheStatementAgain) {
    ASSERT_TRUE(db_->write<void>([&](Connection& c) -> Result<void> {
        DERMAGA_TRY(s, c.prepare("INSERT INTO t(k, n) VALUES(?1, ?2)"));
        s->bind(2, std::int64_t{5});
        for (const char* k : {"a", "b", "c"}) {
            s->bind(1, std::string_view(k));  // ?2 keeps its value
            DERMAGA_CHECK(s->step());
        }
        return {};
    }));
    EXPECT_EQ(count("SELECT COUNT(*) FROM t WHERE n = 5"), 3);
}

TEST_P(SqlContract, ConstraintViolationsSaySo) {
    ASSERT_TRUE(insert("a", 1));
    auto r = insert("a", 2);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::constraint) << r.error().detail;
    EXPECT_EQ(count(), 1);
}

TEST_P(SqlContract, AFailedWriteLeavesNothingBehind) {
    auto r = db_->write<void>([&](Connection& c) -> Result<void> {
        DERMAGA_TRY(s, c.prepare("INSERT INTO t(k, n) VALUES('x', 1)"));
        DERMAGA_CHECK(s->step());
        return fail(errc::error, "changed my mind");
    });
    EXPECT_FALSE(r);
    EXPECT_EQ(count(), 0);
    EXPECT_TRUE(insert("x", 1)) << "the connection is usable again";
}

TEST_P(SqlContract, ConcurrentWritersAllCommitAndFailuresStayAlone) {
    ASSERT_TRUE(insert("taken", 0));
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int t = 0; t < 6; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 30; ++i) {
                if (auto r = insert("k" + std::to_string(t) + "-" + std::to_string(i), i); !r) {
                    ADD_FAILURE() << r.error().detail;
                    ++failures;
                }
                if (i % 10 == 0 && insert("taken", 0)) {  // a duplicate: must fail alone
                    ++failures;
                }
            }
        });
    }
    for (auto& th : threads) {
        th.join();
    }
    EXPECT_EQ(failures, 0);
    EXPECT_EQ(count(), 181);
}

TEST_P(SqlContract, ASnapshotSeesOneState) {
    ASSERT_TRUE(insert("a", 1));
    auto r = db_->snapshot<std::pair<std::int64_t, std::int64_t>>(
        [&](Connection& c) -> Result<std::pair<std::int64_t, std::int64_t>> {
            auto read = [&]() -> Result<std::int64_t> {
                DERMAGA_TRY(s, c.prepare("SELECT COUNT(*) FROM t"));
                DERMAGA_CHECK(s->step());
                return s->int64(0);
            };
            DERMAGA_TRY(before, read());
            DERMAGA_CHECK(insert("b", 2));  // another connection commits meanwhile
            DERMAGA_TRY(after, read());
            return std::pair{before, after};
        });
    ASSERT_TRUE(r) << r.error().detail;
    EXPECT_EQ(r->first, 1);
    EXPECT_EQ(r->second, 1) << "the snapshot must not see the later commit";
    EXPECT_EQ(count(), 2);
}

TEST_P(SqlContract, SerializableCheckThenInsertHappensOnce) {
    // Each writer inserts the first-key row only if none exists yet: under plain READ
    // COMMITTED both would see none and insert. Both first attempts are held until both have
    // read, so the conflict is certain on PostgreSQL; the loser is retried and then sees the row.
    std::barrier both_read(2);
    std::atomic<int> attempts{0};
    auto first_key = [&](int who) {
        return db_->write<void>(
            [&, who](Connection& c) -> Result<void> {
                const bool first_attempt = attempts.fetch_add(1) < 2;
                DERMAGA_TRY(s, c.prepare("SELECT COUNT(*) FROM t WHERE n = 7"));
                DERMAGA_CHECK(s->step());
                const auto seen = s->int64(0);
                if (first_attempt && postgres()) {
                    both_read.arrive_and_wait();  // SQLite's single writer would wait forever here
                }
                if (seen == 0) {
                    DERMAGA_TRY(i, c.prepare("INSERT INTO t(k, n) VALUES(?1, 7)"));
                    i->bind(1, "first-" + std::to_string(who));
                    DERMAGA_CHECK(i->step());
                }
                return {};
            },
            Isolation::serializable);
    };
    Result<void> a, b;
    std::thread ta([&] { a = first_key(1); });
    std::thread tb([&] { b = first_key(2); });
    ta.join();
    tb.join();
    EXPECT_TRUE(a) << (a ? "" : a.error().detail);
    EXPECT_TRUE(b) << (b ? "" : b.error().detail);
    EXPECT_EQ(count("SELECT COUNT(*) FROM t WHERE n = 7"), 1);
    if (postgres()) {
        EXPECT_GE(attempts.load(), 3) << "one writer must have been retried";
    }
}

TEST_P(SqlContract, DeadlockedWritersAreRetried) {
    ASSERT_TRUE(insert("a", 0));
    ASSERT_TRUE(insert("b", 0));
    std::barrier both_locked(2);
    std::atomic<int> attempts{0};
    auto bump = [&](const char* first, const char* second) {
        return db_->write<void>([&, first, second](Connection& c) -> Result<void> {
            const bool first_attempt = attempts.fetch_add(1) < 2;
            for (const char* k : {first, second}) {
                DERMAGA_TRY(s, c.prepare("UPDATE t SET n = n + 1 WHERE k = ?1"));
                s->bind(1, std::string_view(k));
                DERMAGA_CHECK(s->step());
                if (k == first && first_attempt && postgres()) {
                    both_locked.arrive_and_wait();
                }
            }
            return {};
        });
    };
    Result<void> a, b;
    std::thread ta([&] { a = bump("a", "b"); });
    std::thread tb([&] { b = bump("b", "a"); });
    ta.join();
    tb.join();
    EXPECT_TRUE(a) << (a ? "" : a.error().detail);
    EXPECT_TRUE(b) << (b ? "" : b.error().detail);
    EXPECT_EQ(count("SELECT SUM(n) FROM t"), 4);
}

TEST_P(SqlContract, SkipLockedClaimsHandEachRowOutOnce) {
    ASSERT_TRUE(db_->write<void>([&](Connection& c) -> Result<void> {
        for (std::int64_t i = 1; i <= 60; ++i) {
            DERMAGA_TRY(s, c.prepare("INSERT INTO q(id) VALUES(?1)"));
            s->bind(1, i);
            DERMAGA_CHECK(s->step());
        }
        return {};
    }));
    std::mutex mu;
    std::map<std::int64_t, int> claims;
    std::atomic<int> failures{0};
    std::vector<std::thread> workers;
    for (int w = 0; w < 4; ++w) {
        workers.emplace_back([&] {
            while (true) {
                auto id = db_->write<std::int64_t>([&](Connection& c) -> Result<std::int64_t> {
                    DERMAGA_TRY(s, c.prepare("SELECT id FROM q WHERE done = 0 ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"));
                    DERMAGA_TRY(row, s->step());
                    if (!row) {
                        return 0;
                    }
                    const auto claimed = s->int64(0);
                    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // hold the lock a while
                    DERMAGA_TRY(u, c.prepare("UPDATE q SET done = 1 WHERE id = ?1"));
                    u->bind(1, claimed);
                    DERMAGA_CHECK(u->step());
                    return claimed;
                });
                if (!id) {
                    ++failures;
                    return;
                }
                if (*id == 0) {
                    return;
                }
                std::lock_guard lock(mu);
                ++claims[*id];
            }
        });
    }
    for (auto& w : workers) {
        w.join();
    }
    EXPECT_EQ(failures, 0);
    EXPECT_EQ(claims.size(), 60u);
    for (auto [id, n] : claims) {
        EXPECT_EQ(n, 1) << "row " << id << " claimed " << n << " times";
    }
}

TEST_P(SqlContract, MigrationsApplyOnceAndRefuseANewerDatabase) {
    EXPECT_EQ(schema_version(*db_).value_or(-1), 2);
    EXPECT_EQ(migrate(*db_, schema).value_or(-1), 2) << "nothing left to apply";
    auto older = migrate(*db_, std::span<const Migration>(schema, 1));
    ASSERT_FALSE(older);
    EXPECT_NE(older.error().detail.find("newer than this binary"), std::string::npos) << older.error().detail;
    const Migration broken[] = {schema[0], schema[1], {"003_bad.sql", "CREATE TABLE u (x INTEGER); NOT SQL;"}};
    auto bad = migrate(*db_, broken);
    ASSERT_FALSE(bad);
    EXPECT_NE(bad.error().detail.find("003_bad.sql"), std::string::npos) << bad.error().detail;
    EXPECT_EQ(schema_version(*db_).value_or(-1), 2) << "a failed migration leaves no trace";
    EXPECT_EQ(migrate(*db_, std::span<const Migration>(broken, 2)).value_or(-1), 2);
}

INSTANTIATE_TEST_SUITE_P(
    Engines, SqlContract,
    ::testing::Values(Engine{"sqlite",
                             [](const std::filesystem::path& d) {
                                 return std::make_shared<sqlite::Database>((d / "t.db").string(), 4);
                             }},
                      Engine{"postgres",
                             [](const std::filesystem::path&) {
                                 return std::make_shared<postgres::Database>(
                                     pg_options(PostgresServer::shared().create_database()));
                             }}),
    [](const auto& info) { return std::string(info.param.name); });

// PostgreSQL only: deadlines and a vanished server ---------------------------------------------

using Seconds = std::chrono::duration<double>;

TEST(Postgres, MigratorsStartingTogetherApplyEachMigrationOnce) {
    const auto dsn = PostgresServer::shared().create_database();
    std::vector<std::thread> nodes;
    std::atomic<int> ok{0};
    for (int i = 0; i < 4; ++i) {
        nodes.emplace_back([&] {
            postgres::Database db(pg_options(dsn));
            ok += migrate(db, schema).value_or(-1) == 2 ? 1 : 0;
        });
    }
    for (auto& n : nodes) {
        n.join();
    }
    EXPECT_EQ(ok, 4);
}

TEST(Postgres, RetriesAreBounded) {
    auto o = pg_options(PostgresServer::shared().create_database());
    o.max_attempts = 3;
    postgres::Database db(o);
    int runs = 0;
    auto r = db.write<void>([&](Connection& c) -> Result<void> {
        ++runs;
        return c.exec("DO $$ BEGIN RAISE EXCEPTION 'always' USING ERRCODE = 'serialization_failure'; END $$");
    });
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::retry);
    EXPECT_EQ(runs, 3);
    metrics::Registry reg;
    db.register_metrics(reg);
    EXPECT_NE(reg.expose().find("dermaga_db_transaction_retries_total 2\n"), std::string::npos) << reg.expose();
}

TEST(Postgres, AStatementPastItsTimeoutIsCancelled) {
    auto o = pg_options(PostgresServer::shared().create_database());
    o.statement_timeout = std::chrono::milliseconds(300);
    postgres::Database db(o);
    const auto t0 = std::chrono::steady_clock::now();
    auto r = db.read<void>([](Connection& c) { return c.exec("SELECT pg_sleep(5)"); });
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::timeout) << r.error().detail;
    EXPECT_LT(Seconds(std::chrono::steady_clock::now() - t0).count(), 1.5);
    EXPECT_TRUE(db.read<void>([](Connection& c) { return c.exec("SELECT 1"); })) << "the pool recovers";
}

TEST(Postgres, AFrozenServerAnswersWithinTheDeadline) {
    // The server process stops answering (as when its host vanishes): the client gives up one
    // second after the statement timeout instead of waiting for TCP to notice.
    auto o = pg_options(PostgresServer::shared().create_database());
    o.statement_timeout = std::chrono::milliseconds(300);
    postgres::Database db(o);
    auto pid = db.read<std::int64_t>([](Connection& c) -> Result<std::int64_t> {
        DERMAGA_TRY(s, c.prepare("SELECT pg_backend_pid()"));
        DERMAGA_CHECK(s->step());
        return s->int64(0);
    });
    ASSERT_TRUE(pid);
    ASSERT_EQ(::kill(static_cast<pid_t>(*pid), SIGSTOP), 0);
    const auto t0 = std::chrono::steady_clock::now();
    auto r = db.read<void>([](Connection& c) { return c.exec("SELECT 1"); });
    const auto took = Seconds(std::chrono::steady_clock::now() - t0).count();
    ::kill(static_cast<pid_t>(*pid), SIGCONT);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::timeout) << r.error().detail;
    EXPECT_LT(took, 3.0);
    EXPECT_TRUE(db.read<void>([](Connection& c) { return c.exec("SELECT 1"); })) << "a fresh connection serves";
}

TEST(Postgres, AnUnreachableDatabaseFailsFastAndServiceResumesWhenItReturns) {
    auto& server = PostgresServer::shared();
    const auto dsn = server.create_database();
    postgres::Database db(pg_options(dsn));
    auto ping = [&] { return db.read<void>([](Connection& c) { return c.exec("SELECT 1"); }); };
    ASSERT_TRUE(ping());
    server.stop();
    const auto t0 = std::chrono::steady_clock::now();
    auto down = ping();
    auto write = db.write<void>([](Connection& c) { return c.exec("SELECT 1"); });
    const auto took = Seconds(std::chrono::steady_clock::now() - t0).count();
    server.start();
    ASSERT_FALSE(down);
    EXPECT_EQ(down.error().code, errc::unavailable) << down.error().detail;
    ASSERT_FALSE(write);
    EXPECT_EQ(write.error().code, errc::unavailable) << write.error().detail;
    EXPECT_LT(took, 1.0);
    EXPECT_TRUE(ping()) << "reconnects by itself";
    postgres::Options nowhere = pg_options("host=127.0.0.1 port=1 user=postgres dbname=x");
    const auto t1 = std::chrono::steady_clock::now();
    EXPECT_THROW(postgres::Database{nowhere}, std::runtime_error);
    EXPECT_LT(Seconds(std::chrono::steady_clock::now() - t1).count(), 1.0);
}

TEST(Postgres, AfterAServerRestartNoRequestFails) {
    // Four pooled connections go stale together; the first request that meets one discards
    // the rest, so every request after the restart succeeds.
    auto& server = PostgresServer::shared();
    postgres::Database db(pg_options(server.create_database()));
    std::barrier all_open(4);
    std::vector<std::thread> readers;
    for (int i = 0; i < 4; ++i) {
        readers.emplace_back([&] {
            (void)db.read<void>([&](Connection& c) {
                all_open.arrive_and_wait();  // four connections at once
                return c.exec("SELECT 1");
            });
        });
    }
    for (auto& r : readers) {
        r.join();
    }
    server.stop();
    server.start();
    for (int i = 0; i < 4; ++i) {
        auto r = db.read<void>([](Connection& c) { return c.exec("SELECT 1"); });
        EXPECT_TRUE(r) << "request " << i << ": " << r.error().detail;
    }
}

TEST(Postgres, ABadConnectionStringIsRefusedWithLibpqsReason) {
    auto r = postgres::check_dsn("host=127.0.0.1 nonsense=1");
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().detail.find("nonsense"), std::string::npos) << r.error().detail;
    EXPECT_TRUE(postgres::check_dsn("postgresql://u@127.0.0.1:5432/db?connect_timeout=2"));
}

}  // namespace
