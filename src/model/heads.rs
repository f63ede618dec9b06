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
        return Err(Error::invalid(Location::file(&json_path), label_set_mismatch(&info, set, dir)));
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

/// Why a head does not fit the run's label set, and the two ways out: the
/// label file it was trained with, or retraining it for this one.
fn label_set_mismatch(info: &HeadInfo, set: &LabelSet, dir: &Path) -> String {
    let short = |hash: &str| hash[..12.min(hash.len())].to_owned();
    let named = |file: &str| match file {
        crate::labels::BUILTIN_NAME => "the built-in label set".to_owned(),
        file => format!("the label file {file}"),
    };
    let used = set.file_name();
    let (was, now) = (short(&info.label_set_hash), short(&set.hash()));
    let retrain = format!("retrain it for this label set: `themes train --gold ... --labels FILE --out {}`", dir.display());
    match info.label_file.as_deref() {
        None => format!(
            "this head was trained for label set {:?} (hash {was}), not this run's {:?} from {} (hash {now}), and which label file it was trained with is not recorded (a head made by an older version); pass that file with --labels, or {retrain}",
            info.label_set,
            set.name,
            named(&used)
        ),
        Some(file) if file == used => format!(
            "this head was trained with {} (hash {was}), which has changed since (hash {now}): labels, descriptions, thresholds or weights differ; {retrain}",
            named(file)
        ),
        Some(file) => {
            let pass = match file {
                crate::labels::BUILTIN_NAME => "run without --labels (and THEMES_LABELS unset)".to_owned(),
                file => format!("pass --labels {file}"),
            };
            format!(
                "this head was trained with {} (label set {:?}, hash {was}), not {} (label set {:?}, hash {now}); {pass} to use it, or {retrain}",
                named(file),
                info.label_set,
                named(&used),
                set.name
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::st::Pooling;
    use crate::labels::LabelSet;

    fn identity() -> ModelIdentity {
        let (name, revision) = ("m".to_owned(), "r".to_owned());
        ModelIdentity { name, revision, pooling: Pooling::Mean, max_seq_length: 8, normalize: true, dtype: "f32".into() }
    }

    /// A head of dimension 2 for `set`, trained with `label_file`.
    fn saved(dir: &Path, set: &LabelSet, label_file: Option<String>) {
        let ids = set.ids();
        let info = HeadInfo {
            themes_head: 1,
            model: "m".into(),
            revision: "r".into(),
            dim: 2,
            label_set: set.name.clone(),
            label_set_hash: set.hash(),
            label_file,
            labels: ids.clone(),
            thresholds: ids.iter().map(|id| (id.clone(), 0.5)).collect(),
            examples: Default::default(),
            trained_on: vec![],
        };
        let per_label = ids.iter().map(|_| LabelHead::identity(2)).collect();
        save(&Head::new(info, per_label, set.thresholds()), dir).unwrap();
    }

    #[test]
    fn a_head_for_another_label_file_names_the_file_to_pass() {
        let dir = tempfile::tempdir().unwrap();
        let builtin = LabelSet::builtin().unwrap();
        let path = dir.path().join("mine.toml");
        std::fs::write(&path, crate::labels::BUILTIN_TEXT.replacen("description = \"", "description = \"Mine. ", 2)).unwrap();
        let mine = LabelSet::load(&path).unwrap();
        assert_ne!(mine.hash(), builtin.hash());
        let file = mine.file_name();
        assert!(Path::new(&file).is_absolute() && builtin.file_name() == "built-in", "{file}");
        let head = dir.path().join("head");
        saved(&head, &mine, Some(file.clone()));
        assert!(load(&head, &identity(), 2, &mine).is_ok());
        let e = load(&head, &identity(), 2, &builtin).unwrap_err().to_string();
        assert!(e.contains(&format!("trained with the label file {file}")) && e.contains(&format!("pass --labels {file} to use it")), "{e}");
        assert!(e.contains("not the built-in label set") && e.contains("or retrain it"), "{e}");
        // Trained with the built-in set, used with another file.
        saved(&head, &builtin, Some(builtin.file_name()));
        let e = load(&head, &identity(), 2, &mine).unwrap_err().to_string();
        assert!(e.contains("trained with the built-in label set") && e.contains("run without --labels"), "{e}");
        // The same file, edited since.
        saved(&head, &mine, Some(file.clone()));
        std::fs::write(&path, std::fs::read_to_string(&path).unwrap().replacen("Mine. ", "Mine, edited. ", 2)).unwrap();
        let edited = LabelSet::load(&path).unwrap();
        let e = load(&head, &identity(), 2, &edited).unwrap_err().to_string();
        assert!(e.contains(&format!("trained with the label file {file}")) && e.contains("which has changed since"), "{e}");
        // A head from before the file was recorded still loads, and says it was not.
        saved(&head, &builtin, None);
        assert!(!std::fs::read_to_string(head.join("head.json")).unwrap().contains("label_file"));
        assert!(load(&head, &identity(), 2, &builtin).is_ok());
        let e = load(&head, &identity(), 2, &mine).unwrap_err().to_string();
        assert!(e.contains("is not recorded") && e.contains("pass that file with --labels"), "{e}");
    }
}
