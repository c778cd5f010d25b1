//! Closed sets of named choices (modes, strategies, profiles, ...): the library's enums carry
//! their user-facing names and one-line help here, so that the command line (`src/cli/`) can
//! offer them without the library depending on clap.

/// An enum whose every value has a stable user-facing name.
pub trait Choice: Copy + PartialEq + 'static {
    /// Every value, in the order help lists them.
    const ALL: &'static [Self];
    /// The name users type and reports print (kebab-case).
    fn name(self) -> &'static str;
    /// One line of help.
    fn help(self) -> &'static str;

    /// The value named `s`, or an error listing the known names.
    fn parse_name(s: &str) -> Result<Self, String> {
        Self::ALL
            .iter()
            .copied()
            .find(|v| v.name() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = Self::ALL.iter().map(|v| v.name()).collect();
                format!("unknown value '{s}' (known: {})", known.join(", "))
            })
    }
}
