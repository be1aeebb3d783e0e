//! ferrostator's Rust core: the action registry, spec resolution, the executor's
//! sync and async paths, and the result types. The Python package
//! (`python/ferrostator`) adds the async methods, the decorator and the module layout.

mod attempt;
mod contract;
mod defs;
mod driver;
mod effects;
mod executor;
mod expr;
mod fanout;
mod registry;
mod results;
mod spec;
mod stack;
mod util;

#[cfg(test)]
mod tests;

pub use executor::Executor;
pub use registry::Registry;
pub use results::{ActionResult, ExecutionResult};
pub use spec::{ActionSpec, TransitionResult};

#[pyo3::pymodule]
mod _core {
    use pyo3::prelude::*;

    #[pymodule_export]
    use crate::driver::{Attempt, Run};
    #[pymodule_export]
    use crate::effects::apply_effect;
    #[pymodule_export]
    use crate::executor::{Executor, Executor47};
    #[pymodule_export]
    use crate::expr::{_contract_evaluator, _expression_cache_size, _simpleeval_verified, Evaluator};
    #[pymodule_export]
    use crate::fanout::{
        _complete, _fan_out, _parallel_start, _phased_start, _registry_all_start, _registry_start, _sequential_start,
        _spec_start, Batch,
    };
    #[pymodule_export]
    use crate::registry::{Registry, Registry47};
    #[pymodule_export]
    use crate::results::{action_results_to_payload, ActionResult, ExecutionResult};
    #[pymodule_export]
    use crate::spec::{_trust_pystator_types, ActionSpec, TransitionResult};

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        m.add("ACTION_PARAMS_KEY", crate::util::ACTION_PARAMS_KEY)?;
        m.add("MAX_BRANCH_DEPTH", crate::contract::MAX_BRANCH_DEPTH)?;
        m.add("VERIFIED_SIMPLEEVAL", crate::expr::VERIFIED_SIMPLEEVAL)?;
        m.add("_V47_EFFECT_TYPES", crate::contract::Contract::V47.effect_types())?;
        // pystator 0.0.47's classes of the same Python names, under names of their own.
        m.add("ActionSpec47", m.py().get_type::<crate::spec::ActionSpec47>())?;
        m.add("ExecutionResult47", m.py().get_type::<crate::results::ExecutionResult47>())?;
        crate::defs::export(m)
    }
}
