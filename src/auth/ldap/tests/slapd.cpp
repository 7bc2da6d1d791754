#include "slapd.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string_view>
#include <thread>
#include <vector>

namespace dermaga::auth::ldap::testing {

namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Runs argv with stdout+stderr appended to `log`; returns the child's pid or -1.
pid_t spawn(const std::vector<std::string>& args, const fs::path& log) {
    std::vector<char*> argv;
    for (const auto& a : args) {
        argv.push_back(const_cast<char*>(a.c_str()));
    }
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    pid_t pid = -1;
    if (posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ) != 0) {
        pid = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
    return pid;
}

int run(const std::vector<std::string>& args, const fs::path& log) {
    pid_t pid = spawn(args, log);
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid) {
        return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string ssha(const std::string& password) {
    std::string cmd = find_program("slappasswd") + " -h '{SSHA}' -s '" + password + "'";
    std::string out;
    if (FILE* p = popen(cmd.c_str(), "r")) {
        char buf[256];
        while (fgets(buf, sizeof buf, p) != nullptr) {
            out += buf;
        }
        pclose(p);
    }
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) {
        out.pop_back();
    }
    return out;
}

bool can_connect(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    close(fd);
    return ok;
}

// "allow bind_anon_dn" makes the empty-password pitfall real: a bind with a DN and no
// password succeeds (anonymously), as on many production servers. "mail" is readable only
// after a bind, so tests can tell a service-account search from an anonymous one.
constexpr std::string_view slapd_conf_template = R"(allow bind_anon_dn
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile @DIR@/slapd.pid
TLSCertificateFile @DIR@/cert.pem
TLSCertificateKeyFile @DIR@/key.pem
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
maxsize 10485760
suffix "dc=example,dc=org"
rootdn "cn=admin,dc=example,dc=org"
rootpw @ROOTPW@
directory @DIR@/data
access to attrs=userPassword by anonymous auth by * none
access to attrs=mail by users read by * none
access to * by * read
)";

std::string slapd_conf(const fs::path& dir) {
    std::string conf(slapd_conf_template);
    for (auto pos = conf.find("@DIR@"); pos != std::string::npos; pos = conf.find("@DIR@")) {
        conf.replace(pos, 5, dir.string());
    }
    conf.replace(conf.find("@ROOTPW@"), 8, ssha(admin_password));
    return conf;
}

std::string person(const std::string& dn, const std::string& uid, const std::string& password,
                   const std::string& mail) {
    std::string e = "dn: " + dn + "\nobjectClass: inetOrgPerson\nuid: " + uid + "\ncn: " + uid +
                    "\nsn: " + uid + "\nuserPassword: " + ssha(password) + "\n";
    if (!mail.empty()) {
        e += "mail: " + mail + "\n";
    }
    return e + "\n";
}

std::string group(const std::string& cn, const std::vector<std::string>& members) {
    std::string e =
        "dn: cn=" + cn + "," + group_base + "\nobjectClass: groupOfNames\ncn: " + cn + "\n";
    for (const auto& m : members) {
        e += "member: " + m + "\n";
    }
    return e + "\n";
}

std::string fixture_ldif() {
    auto in_people = [](const std::string& uid) { return "uid=" + uid + "," + people_base; };
    return std::string(
               "dn: dc=example,dc=org\nobjectClass: dcObject\nobjectClass: organization\n"
               "o: Example\ndc: example\n\n") +
           "dn: " + people_base + "\nobjectClass: organizationalUnit\nou: people\n\n" +
           "dn: " + group_base + "\nobjectClass: organizationalUnit\nou: groups\n\n" +
           "dn: " + reader_dn +
           "\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: reader\n"
           "userPassword: " +
           ssha(reader_password) + "\n\n" +
           person(in_people("alice"), "alice", alice_password, "alice@example.org") +
           person(in_people("bob"), "bob", bob_password, "bob@example.org") +
           person(in_people("carol"), "carol", carol_password, "") +
           person(mallory_dn, "mallory", mallory_password, "") +
           group("developers", {in_people("alice"), in_people("bob")}) +
           group("ops", {in_people("alice"), mallory_dn});
}

}  // namespace

std::string find_program(const std::string& name) {
    std::vector<std::string> dirs = {"/usr/sbin", "/usr/bin", "/sbin"};
    if (const char* path = std::getenv("PATH")) {
        std::stringstream ss(path);
        for (std::string d; std::getline(ss, d, ':');) {
            dirs.push_back(d);
        }
    }
    for (const auto& d : dirs) {
        auto p = fs::path(d) / name;
        if (access(p.c_str(), X_OK) == 0) {
            return p.string();
        }
    }
    return {};
}

int free_port() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    socklen_t len = sizeof addr;
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    close(fd);
    return ntohs(addr.sin_port);
}

std::string Slapd::start() {
    const char* override_path = std::getenv("DERMAGA_TEST_SLAPD");
    std::string slapd = override_path != nullptr ? override_path : find_program("slapd");
    if (slapd.empty() || access(slapd.c_str(), X_OK) != 0) {
        return "slapd is not installed (install Debian packages slapd and ldap-utils, e.g. "
               "`make test-deps`); the LDAP tests need it";
    }
    if (find_program("slappasswd").empty() || find_program("slapadd").empty()) {
        return "slappasswd/slapadd not found (Debian package slapd)";
    }
    if (find_program("openssl").empty()) {
        return "openssl not found (Debian package openssl): needed for the TLS certificate";
    }
    std::string why;
    for (int attempt = 0; attempt < 3; ++attempt) {  // another process may take our port
        why = try_start(slapd);
        if (why.empty()) {
            return {};
        }
    }
    return why;
}

std::string Slapd::try_start(const std::string& slapd) {
    std::string tmpl = (fs::temp_directory_path() / "dermaga-ldap-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) {
        return "cannot create a temp directory";
    }
    dir_ = tmpl;
    fs::create_directory(dir_ / "data");
    std::ofstream(dir_ / "slapd.conf") << slapd_conf(dir_);
    std::ofstream(dir_ / "fixture.ldif") << fixture_ldif();
    auto log = dir_ / "slapd.log";
    if (run({find_program("openssl"), "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", (dir_ / "key.pem").string(),
             "-out", (dir_ / "cert.pem").string()},
            log) != 0) {
        auto why = "openssl could not create the test certificate:\n" + read_file(log);
        stop();
        return why;
    }
    if (run({find_program("slapadd"), "-q", "-f", (dir_ / "slapd.conf").string(), "-l",
             (dir_ / "fixture.ldif").string()},
            log) != 0) {
        auto why = "slapadd failed loading the fixture:\n" + read_file(log);
        stop();
        return why;
    }
    port_ = free_port();
    tls_port_ = free_port();
    pid_ = spawn({slapd, "-d", "0", "-f", (dir_ / "slapd.conf").string(), "-h",
                  url() + "/ " + tls_url() + "/"},
                 log);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (pid_ > 0 && std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            break;
        }
        if (can_connect(port_) && can_connect(tls_port_)) {
            return {};
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    auto why = "slapd did not start listening on " + url() + ":\n" + read_file(log);
    stop();
    return why;
}

std::string Slapd::modify(const std::string& ldif) {
    const std::string ldapmodify = find_program("ldapmodify");
    if (ldapmodify.empty()) {
        return "ldapmodify not found (Debian package ldap-utils)";
    }
    const auto file = dir_ / "change.ldif";
    std::ofstream(file) << ldif;
    const auto log = dir_ / "ldapmodify.log";
    if (run({ldapmodify, "-x", "-H", url(), "-D", admin_dn, "-w", admin_password, "-f",
             file.string()},
            log) != 0) {
        return "ldapmodify failed:\n" + read_file(log);
    }
    return {};
}

void Slapd::stop() {
    if (pid_ > 0) {
        kill(pid_, SIGTERM);
        int status = 0;
        for (int i = 0; i < 250 && waitpid(pid_, &status, WNOHANG) == 0; ++i) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            if (i == 249) {
                kill(pid_, SIGKILL);
                waitpid(pid_, &status, 0);
            }
        }
        pid_ = -1;
    }
    if (!dir_.empty()) {
        std::error_code ec;
        fs::remove_all(dir_, ec);
        dir_.clear();
    }
}

}  // namespace dermaga::auth::ldap::testing
