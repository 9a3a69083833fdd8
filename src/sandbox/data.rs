//! Conversion between script values and `account::Data`, the deterministic data that
//! subcontract params and arguments are made of (used by the sandbox and the bindings). Maps use keyword keys; exact rationals
//! travel as a `{%num n %den d}` map so they round-trip.

use std::collections::BTreeMap;
use std::rc::Rc;

use crate::account::Data;
use crate::lang::builtins::value_error;
use crate::lang::diagnostics::LangError;
use crate::lang::number::{from_rational, to_bigint};
use crate::lang::symbol::Sym;
use crate::lang::value::Value;

const NUM: &str = "%num";
const DEN: &str = "%den";

/// Script value to `Data`; symbols, procedures and handles are refused with a reason.
pub fn value_to_data(v: &Value) -> Result<Data, LangError> {
    Ok(match v {
        Value::Int(_) | Value::Big(_) => Data::Int(to_bigint(v).unwrap_or_default()),
        Value::Rational(r) => Data::Map(BTreeMap::from([
            (NUM.to_string(), Data::Int(r.numer().clone())),
            (DEN.to_string(), Data::Int(r.denom().clone())),
        ])),
        Value::Bytes(b) => Data::Bytes(b.to_vec()),
        Value::Str(s) => Data::Text(s.to_string()),
        Value::Bool(b) => Data::Bool(*b),
        Value::Nil | Value::Pair(_) | Value::Vector(_) => {
            let items: Vec<Value> = match v {
                Value::Vector(items) => items.iter().cloned().collect(),
                other => other.list_to_vec().ok_or_else(|| value_error("subcontract data", "an improper list"))?,
            };
            Data::List(items.iter().map(value_to_data).collect::<Result<_, _>>()?)
        }
        Value::Map(m) => {
            let mut out = BTreeMap::new();
            for (k, x) in m.iter() {
                let Value::Keyword(k) = k else {
                    return Err(value_error("subcontract data", "map keys must be keywords, e.g. {#:amount 5}"));
                };
                out.insert(k.name().to_string(), value_to_data(x)?);
            }
            Data::Map(out)
        }
        other => {
            return Err(value_error(
                "subcontract data",
                format!("a {} cannot be stored in an account (use integers, bytes, strings, booleans, lists, keyword maps)", other.type_name()),
            ))
        }
    })
}

pub fn data_to_value(d: &Data) -> Value {
    match d {
        Data::Int(n) => Value::from_bigint(n.clone()),
        Data::Bytes(b) => Value::bytes(b),
        Data::Text(s) => Value::string(s),
        Data::Bool(b) => Value::Bool(*b),
        Data::List(items) => Value::list(items.iter().map(data_to_value).collect::<Vec<_>>()),
        Data::Map(m) => {
            if let (2, Some(Data::Int(n)), Some(Data::Int(den))) = (m.len(), m.get(NUM), m.get(DEN))
            {
                if *den > num_bigint::BigInt::from(0) {
                    return from_rational(num_rational::BigRational::new(n.clone(), den.clone()));
                }
            }
            Value::Map(Rc::new(
                m.iter()
                    .map(|(k, v)| (Value::Keyword(Sym::new(k)), data_to_value(v)))
                    .collect(),
            ))
        }
    }
}
