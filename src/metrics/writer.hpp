#pragma once
// The Prometheus text exposition format, version 0.0.4: `# HELP` and `# TYPE` lines, then one
// `name{label="value",...} value` line per sample. Escapes help text and label values, and
// writes numbers the way Prometheus parses them (integers plainly, +Inf, -Inf, NaN).

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "metrics/metric.hpp"

namespace dermaga::metrics {

/// The Content-Type of an exposition.
inline constexpr std::string_view content_type = "text/plain; version=0.0.4; charset=utf-8";

using LabelPairs = std::initializer_list<std::pair<std::string_view, std::string_view>>;

/// Appends to a string. Not thread-safe; one per scrape.
class Writer {
public:
    explicit Writer(std::string& out) : out_(out) {}

    /// Starts a family: its HELP and TYPE lines. `name` is the family name (a counter's ends in
    /// _total; a histogram's has no _bucket/_sum/_count suffix).
    void family(std::string_view name, std::string_view help, Type type);
    /// One sample; `values[i]` is the value of `labels[i]`.
    void sample(std::string_view name, const std::vector<Label>& labels,
                const std::vector<std::string_view>& values, double v);
    void sample(std::string_view name, const std::vector<Label>& labels,
                const std::vector<std::string_view>& values, std::uint64_t v);
    /// One `<name>_bucket` sample with `le` after the other labels.
    void bucket(std::string_view name, const std::vector<Label>& labels,
                const std::vector<std::string_view>& values, double le, std::uint64_t v);
    /// One sample with labels given as (name, value) pairs, for collectors.
    void sample(std::string_view name, LabelPairs labels, double v);

private:
    /// Writes `name suffix{labels[,le]} ` (up to the value).
    void series(std::string_view name, std::string_view suffix, const std::vector<Label>& labels,
                const std::vector<std::string_view>& values, const std::string* le);
    void label(bool& first, std::string_view name, std::string_view value);
    std::string& out_;
};

/// `v` as the text format writes it: "+Inf", "-Inf", "NaN", integers without a fraction,
/// others in the shortest form that reads back the same.
std::string format_value(double v);
/// Appends a label value with \\, \" and \n escaped.
void append_label_value(std::string& out, std::string_view v);
/// Appends help text with \\ and \n escaped.
void append_help(std::string& out, std::string_view v);

}  // namespace dermaga::metrics
