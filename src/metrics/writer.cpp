#include "metrics/writer.hpp"

#include <charconv>
#include <cmath>

namespace dermaga::metrics {

namespace {

const char* type_name(Type t) {
    switch (t) {
        case Type::counter:
            return "counter";
        case Type::gauge:
            return "gauge";
        case Type::histogram:
            return "histogram";
    }
    return "untyped";
}

}  // namespace

std::string format_value(double v) {
    if (std::isnan(v)) {
        return "NaN";
    }
    if (std::isinf(v)) {
        return v > 0 ? "+Inf" : "-Inf";
    }
    // Exact integers (counts, bytes) print without an exponent up to 2^53.
    if (v == std::floor(v) && std::fabs(v) < 9007199254740992.0) {
        return std::to_string(static_cast<std::int64_t>(v));
    }
    char buf[64];
    // Plain decimals for the usual magnitudes (le="0.0005", not "5e-04"); exponents beyond.
    const double a = std::fabs(v);
    const auto fmt = a >= 1e-9 && a < 1e15 ? std::chars_format::fixed : std::chars_format::general;
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, fmt);
    return ec == std::errc() ? std::string(buf, end) : std::to_string(v);
}

namespace {

enum class Quotes { escape, keep };

/// Backslash and newline always; double quotes inside label values only.
void append_escaped(std::string& out, std::string_view v, Quotes quotes) {
    for (char c : v) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '"' && quotes == Quotes::escape) {
            out += "\\\"";
        } else {
            out += c;
        }
    }
}

}  // namespace

void append_label_value(std::string& out, std::string_view v) { append_escaped(out, v, Quotes::escape); }

void append_help(std::string& out, std::string_view v) { append_escaped(out, v, Quotes::keep); }

void Writer::family(std::string_view name, std::string_view help, Type type) {
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    append_help(out_, help);
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type_name(type);
    out_ += '\n';
}

void Writer::series(std::string_view name, std::string_view suffix,
                    const std::vector<Label>& labels, const std::vector<std::string_view>& values,
                    const std::string* le) {
    out_ += name;
    out_ += suffix;
    bool first = true;
    for (std::size_t i = 0; i < labels.size(); ++i) {
        label(first, labels[i].name, values[i]);
    }
    if (le) {
        label(first, "le", *le);
    }
    out_ += first ? " " : "} ";
}

void Writer::label(bool& first, std::string_view name, std::string_view value) {
    out_ += first ? '{' : ',';
    first = false;
    out_ += name;
    out_ += "=\"";
    append_label_value(out_, value);
    out_ += '"';
}

void Writer::sample(std::string_view name, const std::vector<Label>& labels,
                    const std::vector<std::string_view>& values, double v) {
    series(name, {}, labels, values, nullptr);
    out_ += format_value(v);
    out_ += '\n';
}

void Writer::sample(std::string_view name, const std::vector<Label>& labels,
                    const std::vector<std::string_view>& values, std::uint64_t v) {
    series(name, {}, labels, values, nullptr);
    out_ += std::to_string(v);
    out_ += '\n';
}

void Writer::bucket(std::string_view name, const std::vector<Label>& labels,
                    const std::vector<std::string_view>& values, double le, std::uint64_t v) {
    const std::string bound = format_value(le);
    series(name, "_bucket", labels, values, &bound);
    out_ += std::to_string(v);
    out_ += '\n';
}

void Writer::sample(std::string_view name, LabelPairs labels, double v) {
    out_ += name;
    bool first = true;
    for (const auto& [k, val] : labels) {
        label(first, k, val);
    }
    out_ += first ? " " : "} ";
    out_ += format_value(v);
    out_ += '\n';
}

}  // namespace dermaga::metrics
