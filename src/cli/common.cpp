#include "cli/common.hpp"

#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>

#include "app/operator.hpp"
#include "core/clock.hpp"

namespace dermaga::cli {

app::Config load_or_exit(const Common& o) {
    auto cfg = app::load(o.config_path);
    if (!cfg) {
        std::fprintf(stderr, "dermaga: config: %s\n", cfg.error().detail.c_str());
        std::exit(2);
    }
    if (!o.addr.empty()) {
        cfg->http_addr = o.addr;
    }
    if (!o.data.empty()) {
        cfg->data_dir = o.data;
    }
    if (auto v = app::validate(*cfg); !v) {
        std::fprintf(stderr, "dermaga: config: %s\n", v.error().detail.c_str());
        std::exit(2);
    }
    return *cfg;
}

void add_store_options(CLI::App* cmd, Common& o) {
    cmd->add_option("-c,--config", o.config_path, "YAML config file")->envname("DERMAGA_CONFIG");
    cmd->add_option("--data", o.data, "data directory (overrides storage.data_dir)");
}

void add_common(CLI::App* cmd, Common& o) {
    add_store_options(cmd, o);
    cmd->add_option("--addr", o.addr, "listen address HOST:PORT (overrides http.addr)");
}

CLI::App* add_group(CLI::App& cli, const std::string& name, const std::string& about, Common& o) {
    auto* g = cli.add_subcommand(name, about);
    add_store_options(g, o);
    g->fallthrough();
    g->require_subcommand(1);
    return g;
}

namespace {

void add_store_options_below(CLI::App& group, Common& o) {
    for (auto* cmd : group.get_subcommands({})) {
        if (cmd->get_option_no_throw("--data") == nullptr) {
            add_store_options(cmd, o);
        }
        add_store_options_below(*cmd, o);
    }
}

}  // namespace

void add_store_options_to_group_commands(CLI::App& cli, Common& o) {
    for (auto* top : cli.get_subcommands({})) {
        if (!top->get_subcommands({}).empty()) {
            add_store_options_below(*top, o);
        }
    }
}

void on_run(CLI::App* cmd, const Common& o, int& rc, Action action) {
    cmd->callback([&o, &rc, action = std::move(action)] {
        const auto cfg = load_or_exit(o);
        try {
            app::Operator op(cfg);
            const char* user = std::getenv("USER");
            auth::Actor actor;
            actor.principal.kind = auth::Principal::Kind::user;
            actor.principal.name = "cli";
            actor.principal.admin = true;
            actor.principal.local_operator = true;
            actor.principal.method = "local";
            actor.audit_name = std::string("cli:") + (user && *user ? user : "unknown");
            actor.address = "local";
            auto r = action(op.admin(), actor);
            if (!r) {
                const auto& e = r.error();
                std::fprintf(stderr, "dermaga: %s\n", (e.detail.empty() ? e.code.message() : e.detail).c_str());
                rc = 1;
                return;
            }
            rc = *r;
        } catch (const std::exception& e) {
            std::fprintf(stderr, "dermaga: %s\n", e.what());
            rc = 1;
        }
    });
}

Result<std::string> read_password(bool from_stdin, const std::string& prompt) {
    std::string line;
    const bool tty = !from_stdin && ::isatty(STDIN_FILENO);
    termios old{};
    if (tty) {
        std::fprintf(stderr, "%s", prompt.c_str());
        std::fflush(stderr);
        ::tcgetattr(STDIN_FILENO, &old);
        termios quiet = old;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    }
    const bool got = static_cast<bool>(std::getline(std::cin, line));
    if (tty) {
        ::tcsetattr(STDIN_FILENO, TCSANOW, &old);
        std::fprintf(stderr, "\n");
    }
    if (!got) {
        return fail(auth::errc::bad_input, "no password given on standard input");
    }
    if (!line.empty() && line.back() == '\r') {
        line.pop_back();
    }
    return line;
}

void print_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::size_t> width(header.size());
    for (std::size_t i = 0; i < header.size(); ++i) {
        width[i] = header[i].size();
        for (const auto& r : rows) {
            width[i] = std::max(width[i], i < r.size() ? r[i].size() : 0);
        }
    }
    auto line = [&](const std::vector<std::string>& cells) {
        std::string out;
        for (std::size_t i = 0; i < header.size(); ++i) {
            const std::string& c = i < cells.size() ? cells[i] : std::string();
            out += c;
            if (i + 1 < header.size()) {
                out += std::string(width[i] - c.size() + 2, ' ');
            }
        }
        std::printf("%s\n", out.c_str());
    };
    line(header);
    for (const auto& r : rows) {
        line(r);
    }
}

std::string when(std::int64_t t) {
    if (t == 0) {
        return "-";
    }
    return format_utc(t, "%Y-%m-%d %H:%M:%SZ");
}

}  // namespace dermaga::cli
