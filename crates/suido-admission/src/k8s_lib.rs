//! Kubernetes CEL library functions the `cel` crate does not ship, as
//! `k8s.io/apiserver/pkg/cel/library` defines them: the list library (`isSorted`, `sum`,
//! `min`, `max`, `indexOf`, `lastIndexOf` on lists), the regex library (`find`,
//! `findAll`) and the validity predicates `isURL`, `isIP`, `isCIDR` and `isQuantity`.

use cel::common::types::{
    CelBool, CelInt, CelList, CelString, DYN_TYPE, INT_TYPE, LIST_TYPE, STRING_TYPE,
};
use cel::common::value::{CowVal, Val};
use cel::{DeclarationError, Env, ExecutionError};
use std::cmp::Ordering;

/// Registers the list functions on `env`.
pub(crate) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    env.add_member_overload("isSorted", "list_is_sorted", LIST_TYPE, vec![], is_sorted)?;
    env.add_member_overload("sum", "list_sum", LIST_TYPE, vec![], sum)?;
    env.add_member_overload("min", "list_min", LIST_TYPE, vec![], min)?;
    env.add_member_overload("max", "list_max", LIST_TYPE, vec![], max)?;
    env.add_member_overload(
        "indexOf",
        "list_index_of",
        LIST_TYPE,
        vec![DYN_TYPE],
        index_of,
    )?;
    env.add_member_overload(
        "lastIndexOf",
        "list_last_index_of",
        LIST_TYPE,
        vec![DYN_TYPE],
        last_index_of,
    )?;
    env.add_member_overload("find", "string_find", STRING_TYPE, vec![STRING_TYPE], find)?;
    env.add_member_overload(
        "findAll",
        "string_find_all",
        STRING_TYPE,
        vec![STRING_TYPE],
        find_all,
    )?;
    env.add_member_overload(
        "findAll",
        "string_find_all_n",
        STRING_TYPE,
        vec![STRING_TYPE, INT_TYPE],
        find_all_n,
    )?;
    env.add_overload("isURL", "is_url", vec![STRING_TYPE], is_url)?;
    env.add_overload("isIP", "is_ip", vec![STRING_TYPE], is_ip)?;
    env.add_overload("isCIDR", "is_cidr", vec![STRING_TYPE], is_cidr)?;
    env.add_overload("isQuantity", "is_quantity", vec![STRING_TYPE], is_quantity)?;
    Ok(())
}

fn string_arg<'a>(
    args: &'a [CowVal<'_, '_>],
    i: usize,
    function: &str,
) -> Result<&'a str, ExecutionError> {
    args.get(i)
        .and_then(|a| a.downcast_ref::<CelString>())
        .map(|s| s.inner())
        .ok_or_else(|| ExecutionError::function_error(function, "expected a string argument"))
}

fn regex_arg(args: &[CowVal<'_, '_>], function: &str) -> Result<regex::Regex, ExecutionError> {
    let pattern = string_arg(args, 1, function)?;
    regex::Regex::new(pattern).map_err(|e| ExecutionError::function_error(function, e))
}

fn find<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let re = regex_arg(&args, "find")?;
    let found = re
        .find(string_arg(&args, 0, "find")?)
        .map(|m| m.as_str().to_string())
        .unwrap_or_default();
    Ok(CowVal::owned(CelString::from(found)))
}

fn find_all_up_to<'b, 'v>(
    args: &[CowVal<'b, 'v>],
    limit: Option<usize>,
) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let re = regex_arg(args, "findAll")?;
    let haystack = string_arg(args, 0, "findAll")?;
    let found: Vec<Box<dyn Val + 'v>> = re
        .find_iter(haystack)
        .take(limit.unwrap_or(usize::MAX))
        .map(|m| Box::new(CelString::from(m.as_str().to_string())) as Box<dyn Val + 'v>)
        .collect();
    Ok(CowVal::owned(CelList::from(found)))
}

fn find_all<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    find_all_up_to(&args, None)
}

fn find_all_n<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let n = args
        .get(2)
        .and_then(|a| a.downcast_ref::<CelInt>())
        .map(|i| *i.inner())
        .ok_or_else(|| ExecutionError::function_error("findAll", "expected an int limit"))?;
    // A negative limit means all matches, as in Go's FindAllString.
    find_all_up_to(&args, usize::try_from(n).ok())
}

fn predicate<'b, 'v>(
    args: &[CowVal<'b, 'v>],
    function: &str,
    check: impl Fn(&str) -> bool,
) -> Result<CowVal<'b, 'v>, ExecutionError> {
    Ok(CowVal::owned(CelBool::from(check(string_arg(
        args, 0, function,
    )?))))
}

fn is_url<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    predicate(&args, "isURL", |s| {
        crate::formats::check("uri", s) == Some(true)
    })
}

fn is_ip<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    predicate(&args, "isIP", |s| s.parse::<std::net::IpAddr>().is_ok())
}

fn is_cidr<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    predicate(&args, "isCIDR", |s| {
        crate::formats::check("cidr", s) == Some(true)
    })
}

fn is_quantity<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    predicate(&args, "isQuantity", crate::formats::is_quantity)
}

fn elements<'b, 'v>(
    list: &'b (dyn Val + 'v),
    function: &str,
) -> Result<Vec<&'b (dyn Val + 'v)>, ExecutionError> {
    let iterable = list
        .as_iterable()
        .ok_or_else(|| ExecutionError::function_error(function, "receiver is not a list"))?;
    let mut it = iterable.iter();
    let mut out = Vec::new();
    while let Some(x) = it.next() {
        out.push(x);
    }
    Ok(out)
}

fn compare(a: &dyn Val, b: &dyn Val, function: &str) -> Result<Ordering, ExecutionError> {
    a.as_comparer()
        .ok_or_else(|| ExecutionError::function_error(function, "elements are not comparable"))?
        .compare(b)
}

fn receiver<'a, 'b, 'v>(
    args: &'a [CowVal<'b, 'v>],
    function: &str,
) -> Result<&'a CowVal<'b, 'v>, ExecutionError> {
    args.first()
        .ok_or_else(|| ExecutionError::function_error(function, "missing receiver"))
}

fn is_sorted<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let items = elements(receiver(&args, "isSorted")?.as_ref(), "isSorted")?;
    for pair in items.windows(2) {
        if compare(pair[0], pair[1], "isSorted")? == Ordering::Greater {
            return Ok(CowVal::owned(CelBool::from(false)));
        }
    }
    Ok(CowVal::owned(CelBool::from(true)))
}

fn sum<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let items = elements(receiver(&args, "sum")?.as_ref(), "sum")?;
    let mut iter = items.into_iter();
    let Some(first) = iter.next() else {
        return Ok(CowVal::owned(CelInt::from(0)));
    };
    let mut acc: Box<dyn Val + 'v> = first.clone_as_boxed();
    for x in iter {
        let next = acc
            .as_adder()
            .ok_or_else(|| ExecutionError::function_error("sum", "elements cannot be added"))?
            .add(x)?
            .into_owned();
        acc = next;
    }
    Ok(CowVal::Owned(acc))
}

fn extreme<'b, 'v>(
    args: Vec<CowVal<'b, 'v>>,
    function: &str,
    keep: Ordering,
) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let items = elements(receiver(&args, function)?.as_ref(), function)?;
    let mut best: Option<&dyn Val> = None;
    for x in items {
        best = match best {
            Some(b) if compare(x, b, function)? != keep => Some(b),
            _ => Some(x),
        };
    }
    let best = best.ok_or_else(|| {
        ExecutionError::function_error(function, format!("{function} called on empty list"))
    })?;
    Ok(CowVal::Owned(best.clone_as_boxed()))
}

fn min<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    extreme(args, "min", Ordering::Less)
}

fn max<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    extreme(args, "max", Ordering::Greater)
}

fn position<'b, 'v>(
    args: Vec<CowVal<'b, 'v>>,
    function: &str,
    last: bool,
) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let items = elements(receiver(&args, function)?.as_ref(), function)?;
    let needle = args
        .get(1)
        .ok_or_else(|| ExecutionError::function_error(function, "missing argument"))?;
    let found = if last {
        items.iter().rposition(|x| x.equals(needle.as_ref()))
    } else {
        items.iter().position(|x| x.equals(needle.as_ref()))
    };
    let idx = found.map_or(-1, |i| i64::try_from(i).unwrap_or(i64::MAX));
    Ok(CowVal::owned(CelInt::from(idx)))
}

fn index_of<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    position(args, "indexOf", false)
}

fn last_index_of<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    position(args, "lastIndexOf", true)
}
