//! The layer kind registry (Keras's `register_keras_serializable`), and the
//! helpers a composite layer uses to save its sub-layers and name their
//! parameters.
//!
//! [`from_config`](super::from_config) knows the built-in kinds; a user's
//! own layer becomes loadable once its kind is [`register`]ed for the
//! element type it is loaded as. A composite layer (one that owns
//! sub-layers) embeds each sub-layer with [`serialize`], rebuilds it with
//! [`deserialize`], and after building a sub-layer calls [`nest_params`] so
//! that the sub-layer's parameters are named `"<sub-layer>/<param>"`: inside
//! a model they are saved as `"<block>/<sub-layer>/<param>"`.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{OnceLock, PoisonError, RwLock};

use serde_json::{Value, json};

use super::{Layer, PlannedShapes};
use crate::element::Float;
use crate::error::{Error, Result};

/// Rebuilds a layer of one kind from its config, as registered with
/// [`register`].
pub type FromConfigFn<T> = fn(&Value) -> Result<Box<dyn Layer<T>>>;

type Registry = HashMap<(TypeId, String), Box<dyn Any + Send + Sync>>;

fn registry() -> &'static RwLock<Registry> {
    static REGISTRY: OnceLock<RwLock<Registry>> = OnceLock::new();
    REGISTRY.get_or_init(|| RwLock::new(HashMap::new()))
}

/// Makes a layer kind loadable: after `register::<T>(kind, f)`,
/// [`from_config`](super::from_config) (and so
/// [`Sequential::load`](crate::Sequential::load)) rebuilds layers of `kind`
/// with `f` when loading as element type `T`. Registering a kind again
/// replaces the function; a built-in kind cannot be replaced. Keras's
/// `register_keras_serializable`.
///
/// # Errors
///
/// [`Error::InvalidArgument`] (op `register`) for an empty kind or a
/// built-in kind (`"Dense"`, …).
///
/// # Examples
///
/// ```
/// use serde_json::{Value, json};
/// use tapeflow::layers::{self, Dense, Layer};
///
/// fn wide(config: &Value) -> tapeflow::Result<Box<dyn Layer>> {
///     Ok(Box::new(Dense::new(config["units"].as_u64().unwrap_or(1) as usize)))
/// }
/// layers::register::<f32>("WideDense", wide)?;
/// let layer = layers::from_config::<f32>("WideDense", &json!({"units": 9}))?;
/// assert_eq!(layer.kind(), "Dense");
/// assert!(layers::register::<f32>("Dense", wide).is_err());
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub fn register<T: Float>(kind: &str, from_config: FromConfigFn<T>) -> Result<()> {
    if kind.is_empty() || super::BUILT_IN_KINDS.contains(&kind) {
        return Err(Error::InvalidArgument {
            op: "register",
            message: format!("{kind:?} is a built-in layer kind or empty"),
        });
    }
    registry()
        .write()
        .unwrap_or_else(PoisonError::into_inner)
        .insert((TypeId::of::<T>(), kind.to_string()), Box::new(from_config));
    Ok(())
}

/// The function registered for `kind` and `T`, if any.
pub(crate) fn lookup<T: Float>(kind: &str) -> Option<FromConfigFn<T>> {
    registry()
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&(TypeId::of::<T>(), kind.to_string()))
        .and_then(|f| f.downcast_ref::<FromConfigFn<T>>().copied())
}

/// A layer as JSON, `{"kind": …, "config": …}` (Keras's
/// `layers.serialize`): what a composite layer embeds in its own config for
/// each sub-layer.
///
/// # Examples
///
/// ```
/// use tapeflow::layers::{self, Dense};
///
/// let v = layers::serialize::<f32>(&Dense::new(3));
/// assert_eq!(v["kind"], "Dense");
/// assert_eq!(v["config"]["units"], 3);
/// ```
pub fn serialize<T: Float>(layer: &dyn Layer<T>) -> Value {
    json!({ "kind": layer.kind(), "config": layer.config() })
}

/// Rebuilds a layer from [`serialize`]'s JSON (Keras's
/// `layers.deserialize`), through [`from_config`](super::from_config), so
/// registered kinds work too. The layer comes back unbuilt.
///
/// # Errors
///
/// [`Error::InvalidArgument`] (op `from_config`) if `value` has no string
/// `kind`, or as [`from_config`](super::from_config).
///
/// # Examples
///
/// ```
/// use tapeflow::layers::{self, Dense};
///
/// let again = layers::deserialize::<f32>(&layers::serialize::<f32>(&Dense::new(3).name("d")))?;
/// assert_eq!(again.name(), "d");
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub fn deserialize<T: Float>(value: &Value) -> Result<Box<dyn Layer<T>>> {
    let kind = value["kind"]
        .as_str()
        .ok_or_else(|| Error::InvalidArgument {
            op: "from_config",
            message: format!("a sub-layer needs a string \"kind\", got {value}"),
        })?;
    super::from_config(kind, &value["config"])
}

/// Prefixes every parameter of a built sub-layer with the sub-layer's name
/// (`"kernel"` → `"query/kernel"`). A composite layer calls it right after
/// building each sub-layer, so that its own [`Layer::params`] (the
/// sub-layers' parameters, in order) carry distinct, nested names.
///
/// # Examples
///
/// ```
/// use rand::{SeedableRng, rngs::StdRng};
/// use tapeflow::layers::{self, Dense, Layer};
///
/// let mut query = Dense::<f32>::new(2).name("query");
/// query.build(&[3], &mut StdRng::seed_from_u64(0))?;
/// layers::nest_params(&mut query);
/// let names: Vec<&str> = query.params().iter().map(|p| p.name()).collect();
/// assert_eq!(names, ["query/kernel", "query/bias"]);
/// # Ok::<(), tapeflow::Error>(())
/// ```
pub fn nest_params<T: Float>(layer: &mut dyn Layer<T>) {
    let prefix = layer.name().to_string();
    for p in layer.params_mut() {
        let name = format!("{prefix}/{}", p.name());
        p.set_name(name);
    }
}

/// [`Layer::planned_shapes`] of a sub-layer with its parameter names
/// prefixed as [`nest_params`] does.
///
/// # Examples
///
/// ```
/// use tapeflow::layers::{self, Dense};
///
/// let (params, out) = layers::nested_planned_shapes::<f32>(&Dense::new(2).name("q"), &[3]).unwrap();
/// assert_eq!(params[0], ("q/kernel".to_string(), vec![3, 2]));
/// assert_eq!(out, vec![2]);
/// ```
pub fn nested_planned_shapes<T: Float>(
    layer: &dyn Layer<T>,
    input_shape: &[usize],
) -> Option<PlannedShapes> {
    let (params, out) = layer.planned_shapes(input_shape)?;
    let params = params
        .into_iter()
        .map(|(n, s)| (format!("{}/{n}", layer.name()), s))
        .collect();
    Some((params, out))
}
