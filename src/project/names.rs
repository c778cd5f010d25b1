//! The one place that makes identifiers (C++ and Verilog) from user-supplied names.
//!
//! Layer symbols are `l<index>_<sanitized name>`: the index prefix makes them unique even when
//! two layers sanitize to the same text, and no symbol can be a C++ keyword or collide with the
//! kernels' reserved `b2h_` prefix. Derived names append a fixed suffix (`_q`, `_acc`, ...).

/// C++ identifiers for a project.
pub struct Namer;

const KEYWORDS: &[&str] = &[
    "alignas",
    "alignof",
    "and",
    "and_eq",
    "asm",
    "auto",
    "bitand",
    "bitor",
    "bool",
    "break",
    "case",
    "catch",
    "char",
    "class",
    "compl",
    "const",
    "constexpr",
    "const_cast",
    "continue",
    "decltype",
    "default",
    "delete",
    "do",
    "double",
    "dynamic_cast",
    "else",
    "enum",
    "explicit",
    "export",
    "extern",
    "false",
    "float",
    "for",
    "friend",
    "goto",
    "if",
    "inline",
    "int",
    "long",
    "mutable",
    "namespace",
    "new",
    "noexcept",
    "not",
    "not_eq",
    "nullptr",
    "operator",
    "or",
    "or_eq",
    "private",
    "protected",
    "public",
    "register",
    "reinterpret_cast",
    "return",
    "short",
    "signed",
    "sizeof",
    "static",
    "static_assert",
    "static_cast",
    "struct",
    "switch",
    "template",
    "this",
    "thread_local",
    "throw",
    "true",
    "try",
    "typedef",
    "typeid",
    "typename",
    "union",
    "unsigned",
    "using",
    "virtual",
    "void",
    "volatile",
    "wchar_t",
    "while",
    "xor",
    "xor_eq",
    "main",
    "nnet",
    "std",
];

impl Namer {
    /// `[A-Za-z0-9_]` only, no leading digit, no `__`.
    pub fn sanitize(name: &str) -> String {
        let mut s: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        while s.contains("__") {
            s = s.replace("__", "_");
        }
        let s = s.trim_matches('_').to_string();
        if s.is_empty() {
            "layer".to_string()
        } else {
            s
        }
    }

    /// Base symbol of layer `index` (0-based in the firmware; printed 1-based).
    pub fn layer(index: usize, name: &str) -> String {
        format!("l{}_{}", index + 1, Self::sanitize(name))
    }

    /// Checks a user-chosen project / top-function name.
    pub fn check_top(name: &str) -> Result<(), String> {
        let ok = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && !name.contains("__")
            && !name.starts_with('_');
        if !ok {
            return Err(format!(
                "--name '{name}' is not a C++ identifier (letters, digits, single '_', not starting with a digit)"
            ));
        }
        if KEYWORDS.contains(&name) || name.starts_with("b2h_") || name.starts_with("ap_") {
            return Err(format!(
                "--name '{name}' is reserved (a C++ keyword, main, or a b2h_/ap_ prefix)"
            ));
        }
        if name.starts_with('l') && name[1..].starts_with(|c: char| c.is_ascii_digit()) {
            return Err(format!(
                "--name '{name}' looks like a generated layer symbol (l<digit>...); choose another"
            ));
        }
        if name == "defines" || name == "parameters" {
            return Err(format!(
                "--name '{name}' would collide with firmware/{name}.h"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn sanitizes() {
        assert_eq!(Namer::layer(0, "net.0"), "l1_net_0");
        assert_eq!(Namer::layer(10, "--"), "l11_layer");
        assert_eq!(Namer::layer(2, "a__b"), "l3_a_b");
        assert!(Namer::check_top("myproject").is_ok());
        assert!(Namer::check_top("1x").is_err());
        assert!(Namer::check_top("int").is_err());
        assert!(Namer::check_top("my-project").is_err());
    }
}
