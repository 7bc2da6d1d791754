// dermaga user add|list|show|passwd|disable|enable|unlock|delete|import-htpasswd

#include <fstream>
#include <memory>
#include <sstream>

#include "auth/views.hpp"
#include "cli/common.hpp"

namespace dermaga::cli {

namespace {

namespace views = auth::views;

struct UserArgs {
    std::string name, email, file;
    bool admin = false;
    bool password_stdin = false;
};

std::vector<std::string> user_cells(const meta::UserRow& u) {
    return {u.name, u.admin ? "yes" : "no", u.disabled ? "yes" : "no", u.source, u.email, when(u.created_at)};
}

void print_users(const std::vector<meta::UserRow>& users, bool json) {
    if (json) {
        std::printf("%s\n", views::list(users, views::user).dump(2).c_str());
        return;
    }
    std::vector<std::vector<std::string>> rows;
    for (const auto& u : users) {
        rows.push_back(user_cells(u));
    }
    print_table({"NAME", "ADMIN", "DISABLED", "SOURCE", "EMAIL", "CREATED"}, rows);
}

Result<int> set_disabled(auth::Admin& admin, const auth::Actor& a, const std::string& name, bool disabled) {
    auth::UserUpdate u;
    u.disabled = disabled;
    DERMAGA_CHECK(admin.update_user(a, name, u));
    std::printf("user %s %s\n", name.c_str(), disabled ? "disabled" : "enabled");
    return 0;
}

}  // namespace

void add_user_commands(CLI::App& cli, Common& o, int& rc) {
    auto args = std::make_shared<UserArgs>();
    auto* g = add_group(cli, "user", "manage user accounts", o);

    auto* add = g->add_subcommand("add", "create a user (password from a prompt or standard input)");
    add->add_option("NAME", args->name, "user name")->required();
    add->add_flag("--admin", args->admin, "make a global administrator");
    add->add_option("--email", args->email, "email address");
    add->add_flag("--password-stdin", args->password_stdin, "read the password from standard input");
    on_run(add, o, rc, [args](auth::Admin& admin, const auth::Actor& a) -> Result<int> {
        DERMAGA_TRY(pw, read_password(args->password_stdin, "Password for " + args->name + ": "));
        DERMAGA_TRY(u, admin.create_user(a, auth::NewUser{args->name, pw, args->email, args->admin}));
        std::printf("user %s created%s\n", u.name.c_str(), u.admin ? " (administrator)" : "");
        return 0;
    });

    auto* list = g->add_subcommand("list", "list users");
    list->add_flag("--json", o.json, "machine-readable output");
    on_run(list, o, rc, [&o](auth::Admin& admin, const auth::Actor& a) -> Result<int> {
        DERMAGA_TRY(users, admin.list_users(a));
        print_users(users, o.json);
        return 0;
    });

    auto* show = g->add_subcommand("show", "show one user");
    show->add_option("NAME", args->name, "user name")->required();
    show->add_flag("--json", o.json, "machine-readable output");
    on_run(show, o, rc, [args, &o](auth::Admin& admin, const auth::Actor& a) -> Result<int> {
        DERMAGA_TRY(u, admin.get_user(a, args->name));
        if (o.json) {
            std::printf("%s\n", views::user(u).dump(2).c_str());
        } else {
            print_users({u}, false);
        }
        return 0;
    });

    auto* passwd = g->add_subcommand("passwd", "set a user's password");
    passwd->add_option("NAME", args->name, "user name")->required();
    passwd->add_flag("--password-stdin", args->password_stdin, "read the password from standard input");
    on_run(passwd, o, rc, [args](auth::Admin& admin, const auth::Actor& a) -> Result<int> {
        DERMAGA_TRY(pw, read_password(args->password_stdin, "New password for " + args->name + ": "));
        auth::UserUpdate u;
        u.password = pw;
        DERMAGA_CHECK(admin.update_user(a, args->name, u));
        std::printf("password of %s changed\n", args->name.c_str());
        return 0;
    });

    for (auto [verb, disabled] : {std::pair{"disable", true}, {"enable", false}}) {
        auto* cmd = g->add_subcommand(verb, std::string(verb) + " a user");
        cmd->add_option("NAME", args->name, "user name")->required();
        on_run(cmd, o, rc, [args, disabled = disabled](auth::Admin& admin, const auth::Actor& a) {
            return set_disabled(admin, a, args->name, disabled);
        });
    }

    using UserOp = Result<void> (auth::Admin::*)(const auth::Actor&, std::string_view);
    struct NamedOp {
        const char* verb;
        const char* help;
        const char* done;
        UserOp op;
    };
    for (const auto& n : {NamedOp{"unlock", "lift a lockout after failed logins", "unlocked", &auth::Admin::unlock_user},
                          NamedOp{"delete", "delete a user", "deleted", &auth::Admin::delete_user}}) {
        auto* cmd = g->add_subcommand(n.verb, n.help);
        cmd->add_option("NAME", args->name, "user name")->required();
        on_run(cmd, o, rc, [args, n](auth::Admin& admin, const auth::Actor& a) -> Result<int> {
            DERMAGA_CHECK((admin.*n.op)(a, args->name));
            std::printf("user %s %s\n", args->name.c_str(), n.done);
            return 0;
        });
    }

    auto* import = g->add_subcommand("import-htpasswd", "create users from an htpasswd file (bcrypt entries)");
    import->add_option("FILE", args->file, "htpasswd file")->required();
    on_run(import, o, rc, [args](auth::Admin& admin, const auth::Actor& a) -> Result<int> {
        std::ifstream in(args->file, std::ios::binary);
        if (!in) {
            return fail(auth::errc::bad_input, "cannot read " + args->file);
        }
        std::stringstream text;
        text << in.rdbuf();
        DERMAGA_TRY(r, admin.import_htpasswd(a, text.str()));
        for (const auto& n : r.created) {
            std::printf("created %s\n", n.c_str());
        }
        for (const auto& n : r.skipped) {
            std::printf("skipped %s (exists)\n", n.c_str());
        }
        return 0;
    });
}

}  // namespace dermaga::cli
