#include "storage/s3/upload_state.hpp"

#include <sstream>

namespace dermaga::storage::s3 {

std::string S3Upload::encode() const {
    std::string out = "v1\nsize " + std::to_string(size) + "\n";
    if (!multipart_id.empty()) {
        out += "mpu " + multipart_id + "\n";
    }
    for (std::size_t i = 0; i < parts.size(); ++i) {
        out += "part " + std::to_string(parts[i].number) + " " + std::to_string(part_sizes[i]) + " " + parts[i].etag + "\n";
    }
    if (tail > 0) {
        out += "tail " + std::to_string(tail) + "\n";
    }
    return out;
}

std::optional<S3Upload> S3Upload::decode(const std::string& state) {
    S3Upload u;
    if (state.empty()) {
        return u;
    }
    std::istringstream in(state);
    std::string line;
    if (!std::getline(in, line) || line != "v1") {
        return std::nullopt;
    }
    std::uint64_t in_parts = 0;
    while (std::getline(in, line)) {
        std::istringstream f(line);
        std::string kind;
        f >> kind;
        if (kind == "size") {
            f >> u.size;
        } else if (kind == "mpu") {
            f >> u.multipart_id;
        } else if (kind == "part") {
            Part p;
            std::uint64_t n = 0;
            f >> p.number >> n >> p.etag;
            if (p.number != static_cast<int>(u.parts.size()) + 1 || p.etag.empty()) {
                return std::nullopt;
            }
            u.parts.push_back(std::move(p));
            u.part_sizes.push_back(n);
            in_parts += n;
        } else if (kind == "tail") {
            f >> u.tail;
        } else {
            return std::nullopt;
        }
        if (f.fail()) {
            return std::nullopt;
        }
    }
    if (in_parts + u.tail != u.size || (!u.parts.empty() && u.multipart_id.empty())) {
        return std::nullopt;
    }
    return u;
}

}  // namespace dermaga::storage::s3
