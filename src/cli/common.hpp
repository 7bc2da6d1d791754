#pragma once
// Shared by the `dermaga` subcommands: config flags, opening the store as the local operator,
// error reporting (exit 1, one line "dermaga: <reason>"), password prompts and table output.

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

#include "app/config.hpp"
#include "auth/admin.hpp"

namespace dermaga::cli {

struct Common {
    std::string config_path;
    std::string addr;
    std::string data;
    bool json = false;
};

/// Loads the config file and environment, then applies command-line flags. Exits 2 with a
/// one-line reason on any error.
app::Config load_or_exit(const Common& o);
/// --config, --addr, --data on `cmd` (serve, check-config).
void add_common(CLI::App* cmd, Common& o);
/// -c/--config and --data on `cmd`: where the store is, for the management commands.
void add_store_options(CLI::App* cmd, Common& o);
/// A command group ("user", "org", …) taking the store options, needing one subcommand.
CLI::App* add_group(CLI::App& cli, const std::string& name, const std::string& about, Common& o);
/// Gives every command inside a group (`user add`, `org member set`, …) the store options
/// too, so that each accepts them after its own arguments and its --help lists them. Call
/// once, after every command is registered.
void add_store_options_to_group_commands(CLI::App& cli, Common& o);

/// What a management command does with the store open. Returns the exit code, or an error
/// (printed as one line, exit 1).
using Action = std::function<Result<int>(auth::Admin& admin, const auth::Actor& actor)>;

/// Sets `cmd` to open the store as the operator "cli:<$USER>" and run `action`; the exit code
/// lands in `rc`.
void on_run(CLI::App* cmd, const Common& o, int& rc, Action action);

/// A password from --password-stdin (one line), a prompt with echo off on a terminal, or one
/// line of stdin otherwise.
Result<std::string> read_password(bool from_stdin, const std::string& prompt);

/// Prints rows as left-aligned columns under a header.
void print_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);
/// Unix seconds as "2024-05-01 12:00:00Z"; "-" for 0.
std::string when(std::int64_t unix_seconds);

void add_user_commands(CLI::App& cli, Common& o, int& rc);
void add_org_commands(CLI::App& cli, Common& o, int& rc);
void add_access_commands(CLI::App& cli, Common& o, int& rc);
void add_migrate_command(CLI::App& cli, Common& o, int& rc);

}  // namespace dermaga::cli
