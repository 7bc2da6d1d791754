#pragma once
// Internal to the server: whether a request's message framing can be trusted (RFC 9112 §6).

#include <string_view>
#include <vector>

namespace dermaga::http::detail {

/// The status a request head must be refused with because of its Transfer-Encoding, or 0 when
/// its framing is sound. `te_values` are the values of every Transfer-Encoding field, in order.
/// Only a single `chunked` coding is accepted (names compare case-insensitively):
/// - any Transfer-Encoding on HTTP/1.0, or one whose last coding is not `chunked`
///   (`xchunked`, `chunked, identity`, `identity`, `gzip`, empty), or `chunked` twice: 400, as
///   the body's length cannot be known (§6.3);
/// - `chunked` after other codings (`gzip, chunked`): 501, codings not implemented (§6.1).
/// Either way the connection must be closed after the answer: the rest of the stream cannot be
/// parsed as requests.
unsigned transfer_encoding_refusal(unsigned version, const std::vector<std::string_view>& te_values);

}  // namespace dermaga::http::detail
