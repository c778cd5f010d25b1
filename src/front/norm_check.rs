//! Refuses state dicts that reveal a non-default in-layer norm for the profiles that model a
//! parameter-free one (kyegomez, schneiderkamp): such a norm has learned parameters that the
//! profile would silently drop.

use super::tensors::TensorFile;
use crate::error::Result;
use crate::ir::profile::{InNorm, Profile};
use crate::ir::ProfileName;

/// Errors on the first tensor named `….norm.weight` or `….norm.bias` (schneiderkamplab
/// `bitlinear`'s `ParametricLayerNorm` inside a `BitLinear`) when `name` has an in-layer norm.
pub fn refuse_norm_parameters(file: &TensorFile, name: ProfileName) -> Result<()> {
    if Profile::named(name).in_norm == InNorm::None {
        return Ok(());
    }
    let hit = file.tensors.keys().find(|t| {
        let last_two: Vec<&str> = t.rsplitn(3, '.').take(2).collect();
        matches!(last_two.as_slice(), ["weight" | "bias", "norm"])
    });
    match hit {
        None => Ok(()),
        Some(t) => Err(file.tensor_error(
            t,
            format!(
                "is a parameter of a norm inside a BitLinear (e.g. bitlinear's ParametricLayerNorm); \
                 profile {name} reproduces only the package default, a parameter-free norm, and \
                 would ignore it. Train with the default norm, or describe the model without this profile"
            ),
        )),
    }
}

/// Notes on what the profile does with the loaded layers that a user might not expect: a bias
/// that the package never uses.
pub fn profile_notes(profile: &Profile, layers: &[crate::ir::Layer]) -> Vec<String> {
    use crate::ir::profile::BiasMode;
    use crate::ir::LayerKind;
    if profile.bias != BiasMode::Unused {
        return Vec::new();
    }
    layers
        .iter()
        .filter(|l| matches!(&l.kind, LayerKind::BitLinear(b) if b.bias.is_some()))
        .map(|l| {
            format!(
                "layer '{}': its bias is ignored (profile {}: the package's BitLinear never adds it)",
                l.name, profile.name
            )
        })
        .collect()
}
