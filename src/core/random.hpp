#pragma once

#include <cstddef>
#include <string>

namespace dermaga {

/// `bytes` bytes from a cryptographically secure generator, as lowercase hex. Thread-safe.
std::string random_hex(std::size_t bytes);

}  // namespace dermaga
