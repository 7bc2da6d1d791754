#pragma once
// RFC 4515 filter building: the only way user-controlled text enters an LDAP filter.

#include <string>
#include <string_view>

namespace dermaga::auth::ldap {

/// Escapes a value for use inside an LDAP search filter (RFC 4515 section 3): `*`, `(`, `)`,
/// `\` and NUL become `\2a`, `\28`, `\29`, `\5c`, `\00`. Everything else is kept as is, so
/// the result can only ever be an equality assertion value, never filter syntax.
std::string escape_filter_value(std::string_view value);

/// Replaces every `{user}` in `tmpl` with escape(user) and every `{dn}` with escape(dn).
/// The template itself is trusted configuration and is not escaped.
std::string expand_filter(std::string_view tmpl, std::string_view user, std::string_view dn);

/// The attribute a filter compares with `{user}`, e.g. "uid" for "(&(objectClass=x)(uid={user}))".
/// Empty if the template has no `attr={user}` assertion.
std::string user_attribute(std::string_view tmpl);

}  // namespace dermaga::auth::ldap
