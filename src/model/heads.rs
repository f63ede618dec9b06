//! Head files, kept with the other model files: a folder holding
//! `head.safetensors` (`weights` [labels, dim], `prior` [labels], `bias`
//! [labels]) and `head.json` naming the model, the label set and what it
//! was trained on. Loading checks that the head fits the model and label
//! set it is used with.

use std::path::Path;

use candle_core::{Device, Tensor};
use sha2::{Digest, Sha256};

use crate::classify::head::{Head, HeadInfo, LabelHead};
use crate::embed::ModelIdentity;
use crate::error::{Error, Location, Result};
use crate::labels::LabelSet;

/// Writes the head's folder (created if needed); files appear whole.
pub fn save(head: &Head, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let labels = head.per_label.len();
    let flat: Vec<f32> = head.per_label.iter().flat_map(|l| l.weights.iter().copied()).collect();
    let prior: Vec<f32> = head.per_label.iter().map(|l| l.prior).collect();
    let bias: Vec<f32> = head.per_label.iter().map(|l| l.bias).collect();
    let tensors = [
        ("weights", Tensor::from_vec(flat, (labels, head.info.dim), &Device::Cpu)?),
        ("prior", Tensor::from_vec(prior, labels, &Device::Cpu)?),
        ("bias", Tensor::from_vec(bias, labels, &Device::Cpu)?),
    ];
    let weights_path = dir.join("head.safetensors");
    let temp = dir.join(".head.safetensors.tmp");
    let map: std::collections::HashMap<&str, Tensor> = tensors.into_iter().collect();
    candle_core::safetensors::save(&map, &temp)?;
    std::fs::rename(&temp, &weights_path).map_err(|e| Error::io(&weights_path, e))?;
    let json_path = dir.join("head.json");
    let mut file = crate::output::AtomicFile::create(&json_path)?;
    let text = serde_json::to_string_pretty(&head.info).map_err(|e| Error::io(&json_path, e.into()))?;
    std::io::Write::write_all(&mut file, text.as_bytes()).map_err(|e| Error::io(&json_path, e))?;
    file.commit()
}

/// Reads a head's folder and checks that it was made for this model
/// (name, revision, vector size) and this label set.
pub fn load(dir: &Path, model: &ModelIdentity, dim: usize, set: &LabelSet) -> Result<Head> {
    let (name, revision) = (&model.name, &model.revision);
    let json_path = dir.join("head.json");
    let text = std::fs::read_to_string(&json_path).map_err(|e| {
        Error::io(&json_path, std::io::Error::new(e.kind(), format!("{e}; a head folder is made by `themes train --out DIR`")))
    })?;
    let info: HeadInfo = serde_json::from_str(&text)
        .map_err(|e| Error::invalid(Location::file(&json_path), format!("not a head description: {e}")))?;
    if &info.model != name || &info.revision != revision || info.dim != dim {
        return Err(Error::invalid(
            Location::file(&json_path),
            format!(
                "this head was trained on vectors of model {} ({}), not {name} ({revision}); train a head for this model, or pass --model {}",
                info.model, info.revision, info.model
            ),
        ));
    }
    if info.labels != set.ids() || info.label_set_hash != set.hash() {
        return Err(Error::invalid(
            Location::file(&json_path),
            format!(
                "this head was trained for label set {:?} (hash {}), not {:?} (hash {}): labels, descriptions, thresholds or weights differ; retrain it with `themes train --labels ... --out {}`",
                info.label_set,
                &info.label_set_hash[..12.min(info.label_set_hash.len())],
                set.name,
                &set.hash()[..12],
                dir.display()
            ),
        ));
    }
    let weights_path = dir.join("head.safetensors");
    let bytes = std::fs::read(&weights_path).map_err(|e| Error::io(&weights_path, e))?;
    let digest = hex::encode(Sha256::digest(&bytes));
    let tensors = candle_core::safetensors::load_buffer(&bytes, &Device::Cpu)
        .map_err(|e| Error::invalid(Location::file(&weights_path), format!("cannot read the head's weights: {e}")))?;
    let get = |name: &str| {
        tensors.get(name).ok_or_else(|| Error::invalid(Location::file(&weights_path), format!("no tensor {name:?}")))
    };
    let labels = info.labels.len();
    let weights = get("weights")?.to_vec2::<f32>()?;
    let prior = get("prior")?.to_vec1::<f32>()?;
    let bias = get("bias")?.to_vec1::<f32>()?;
    if weights.len() != labels || weights.iter().any(|w| w.len() != dim) || prior.len() != labels || bias.len() != labels {
        return Err(Error::invalid(Location::file(&weights_path), "tensor shapes do not match head.json"));
    }
    let per_label = weights
        .into_iter()
        .zip(prior.into_iter().zip(bias))
        .map(|(weights, (prior, bias))| LabelHead { weights, prior, bias })
        .collect();
    Ok(Head { digest, ..Head::new(info, per_label, set.thresholds()) })
}
