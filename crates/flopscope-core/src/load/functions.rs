//! Model-local functions (`ModelProto.functions`): calls are expanded into the function's
//! nodes, so every operator inside is counted by its own rule.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::onnx_pb as pb;

/// Deepest chain of functions calling functions that is expanded.
const MAX_DEPTH: usize = 16;
/// Most nodes an expansion may produce: bounds what a hostile file can make us allocate.
const MAX_NODES: usize = 1 << 22;

type Library<'a> = HashMap<(&'a str, &'a str), &'a pb::FunctionProto>;

/// Returns `nodes` with every call of a function in `functions` replaced by its body, or `None`
/// when no node calls one (the common case: nothing is copied).
pub fn expand(
    nodes: &[pb::NodeProto],
    functions: &[pb::FunctionProto],
) -> Result<Option<Vec<pb::NodeProto>>> {
    if functions.is_empty() {
        return Ok(None);
    }
    let lib: Library = functions
        .iter()
        .map(|f| ((f.domain(), f.name()), f))
        .collect();
    if !nodes
        .iter()
        .any(|n| lib.contains_key(&(n.domain(), n.op_type())))
    {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(nodes.len());
    for n in nodes {
        inline(n, &lib, 0, &mut out)?;
    }
    Ok(Some(out))
}

fn inline(
    call: &pb::NodeProto,
    lib: &Library,
    depth: usize,
    out: &mut Vec<pb::NodeProto>,
) -> Result<()> {
    let Some(f) = lib.get(&(call.domain(), call.op_type())) else {
        out.push(call.clone());
        return Ok(());
    };
    if depth >= MAX_DEPTH {
        return Err(Error::Invalid(format!(
            "function '{}' calls functions more than {MAX_DEPTH} levels deep",
            f.name()
        )));
    }
    // Formal names map to the call's actual names; the body's own values get a unique prefix.
    let prefix = format!(
        "{}/",
        if call.name().is_empty() {
            f.name()
        } else {
            call.name()
        }
    );
    let mut names: HashMap<&str, String> = HashMap::new();
    for (formal, actual) in f
        .input
        .iter()
        .zip(call.input.iter().chain(std::iter::repeat(&String::new())))
    {
        names.insert(formal, actual.clone());
    }
    for (formal, actual) in f
        .output
        .iter()
        .zip(call.output.iter().chain(std::iter::repeat(&String::new())))
    {
        names.insert(formal, actual.clone());
    }
    let rename = |s: &String| -> String {
        if s.is_empty() {
            return String::new();
        }
        names
            .get(s.as_str())
            .cloned()
            .unwrap_or_else(|| format!("{prefix}{s}"))
    };
    for (i, inner) in f.node.iter().enumerate() {
        let mut n = inner.clone();
        n.input = inner.input.iter().map(rename).collect();
        n.output = inner.output.iter().map(rename).collect();
        n.name = Some(format!(
            "{prefix}{}",
            if inner.name().is_empty() {
                format!("{}_{i}", inner.op_type())
            } else {
                inner.name().to_string()
            }
        ));
        if n.metadata_props.is_empty() {
            n.metadata_props = call.metadata_props.clone();
        }
        // Attributes that refer to the call's attributes (`ref_attr_name`) take their values.
        let mut attrs = Vec::with_capacity(n.attribute.len());
        for a in n.attribute.drain(..) {
            match a.ref_attr_name.as_deref() {
                None | Some("") => attrs.push(a),
                Some(r) => {
                    let given = call.attribute.iter().find(|c| c.name() == r);
                    let default = f.attribute_proto.iter().find(|d| d.name() == r);
                    if let Some(v) = given.or(default) {
                        let mut v = v.clone();
                        v.name = a.name.clone();
                        attrs.push(v);
                    }
                }
            }
        }
        n.attribute = attrs;
        inline(&n, lib, depth + 1, out)?;
        if out.len() > MAX_NODES {
            return Err(Error::Invalid(format!(
                "expanding function '{}' gives more than {MAX_NODES} nodes",
                f.name()
            )));
        }
    }
    Ok(())
}
