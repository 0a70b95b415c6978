//! The declarative macros that generate contexts, stubs and gear descriptors.

/// Declares a context: a struct of DataGears with the meta state appended, and its [`Context`](crate::Context) impl.
///
/// ```
/// gears::context! {
///     /// The context of a counter.
///     #[derive(Clone, Debug, PartialEq, Eq, Hash)]
///     pub struct CountCtx {
///         output: u64,
///         error: (),
///         data_gears: {
///             /// How far we have counted.
///             pub count: u64,
///             /// Where to stop.
///             pub limit: u64,
///         }
///     }
/// }
/// let ctx = CountCtx::new(gears::ProcessId(0), 0, 10);
/// assert_eq!(ctx.limit, 10);
/// ```
///
/// Every DataGear must be plain data (see [`DataGear`](crate::DataGear)); a field that cannot be
/// compared or hashed, such as a floating-point number, is refused at compile time:
///
/// ```compile_fail,E0277
/// gears::context! {
///     #[derive(Clone, Debug, PartialEq)]
///     pub struct Bad { output: (), error: (), data_gears: { pub speed: f64 } }
/// }
/// ```
///
/// It generates the struct (with a trailing `meta: ContextMeta<Self>` field), a constructor `new`
/// taking the process id and each DataGear in order, a `<Name>DataGears<'a>` struct of `&mut`
/// borrows (one per DataGear), and the [`Context`](crate::Context) impl.
#[macro_export]
macro_rules! context {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            output: $out:ty,
            error: $err:ty,
            data_gears: {
                $( $(#[$fmeta:meta])* $fvis:vis $field:ident : $ty:ty ),* $(,)?
            } $(,)?
        }
    ) => {
        $crate::__private::paste! {
            $(#[$meta])*
            $vis struct $name {
                $( $(#[$fmeta])* $fvis $field : $ty, )*
                /// The meta-level state: process id and saved continuation.
                pub meta: $crate::ContextMeta<$name>,
            }

            #[doc = "One `&mut` borrow per DataGear of [`" $name "`], handed to stubs."]
            #[allow(missing_docs)]
            $vis struct [<$name DataGears>]<'a> {
                $( pub $field : &'a mut $ty, )*
            }

            // Every DataGear is plain data: Clone + Eq + Hash + Debug.
            const _: () = {
                const fn is_data_gear<T: $crate::DataGear>() {}
                $( is_data_gear::<$ty>(); )*
            };

            impl $name {
                #[doc = "A fresh [`" $name "`] for `process`, with no saved continuation."]
                #[allow(clippy::too_many_arguments)]
                $vis fn new(process: $crate::ProcessId, $( $field : $ty ),*) -> Self {
                    $name { $( $field, )* meta: $crate::ContextMeta::new(process) }
                }
            }

            impl $crate::Context for $name {
                type Output = $out;
                type Error = $err;
                type DataGears<'a> = [<$name DataGears>]<'a>;

                #[inline]
                fn data_gears(&mut self) -> Self::DataGears<'_> {
                    [<$name DataGears>] { $( $field: &mut self.$field, )* }
                }

                fn meta(&self) -> &$crate::ContextMeta<Self> {
                    &self.meta
                }

                fn meta_mut(&mut self) -> &mut $crate::ContextMeta<Self> {
                    &mut self.meta
                }

                fn data_gear(&self, name: &str) -> Option<&dyn core::fmt::Debug> {
                    match name {
                        $( stringify!($field) => Some(&self.$field), )*
                        _ => None,
                    }
                }
            }
        }
    };
}

/// Defines a CodeGear: the normal-level function, its stub, and its static descriptor.
///
/// The parameters are the gear's DataGears, named as the context's DataGears are; the gear sees
/// only these, never the context. The body ends in a [`Next`](crate::Next).
///
/// ```
/// # gears::context! {
/// #     #[derive(Clone, Debug, PartialEq, Eq, Hash)]
/// #     pub struct CountCtx { output: u64, error: (), data_gears: { pub count: u64, pub limit: u64 } }
/// # }
/// use gears::Next;
///
/// gears::code_gear! {
///     /// Count one more, or stop at the limit.
///     pub fn count_step(ctx: CountCtx; count: &mut u64, limit: &u64) {
///         if *count == *limit {
///             return Next::Exit(*count);
///         }
///         *count += 1;
///         Next::Preempt(&COUNT_STEP)
///     }
/// }
///
/// assert_eq!(COUNT_STEP.name(), "count_step");
/// assert_eq!(COUNT_STEP.path(), concat!(module_path!(), "::count_step"));
/// assert_eq!(COUNT_STEP.data_gears(), &["count", "limit"]);
/// let mut ctx = CountCtx::new(gears::ProcessId(0), 0, 1);
/// assert!(matches!(COUNT_STEP.run(&mut ctx), Next::Preempt(_)));
/// assert_eq!(ctx.count, 1);
/// ```
///
/// It generates `pub fn count_step(count: &mut u64, limit: &u64) -> Next<CountCtx>` (callable
/// directly in unit tests), a hidden stub `count_step_stub(&mut CountCtx)`, and the descriptor
/// `pub static COUNT_STEP: Gear<CountCtx>`, whose path (its identity) is the module path where the
/// macro is invoked, `::`, and the gear's name.
///
/// A gear cannot reach a DataGear it did not declare: the body has no context in scope.
///
/// ```compile_fail,E0425
/// # gears::context! {
/// #     #[derive(Clone, Debug, PartialEq, Eq, Hash)]
/// #     pub struct CountCtx { output: u64, error: (), data_gears: { pub count: u64, pub limit: u64 } }
/// # }
/// use gears::Next;
/// gears::code_gear! {
///     /// Reaches for `limit`, which it did not declare: error[E0425], cannot find value `limit`.
///     pub fn count_step(ctx: CountCtx; count: &mut u64) {
///         *count += 1;
///         if *count == *limit { Next::Exit(*count) } else { Next::Goto(&COUNT_STEP) }
///     }
/// }
/// ```
///
/// And it cannot declare a DataGear its context does not have:
///
/// ```compile_fail,E0609
/// # gears::context! {
/// #     #[derive(Clone, Debug, PartialEq, Eq, Hash)]
/// #     pub struct CountCtx { output: u64, error: (), data_gears: { pub count: u64, pub limit: u64 } }
/// # }
/// use gears::Next;
/// gears::code_gear! {
///     /// Declares `total`, which CountCtx has not got: error[E0609], no field `total`.
///     pub fn count_step(ctx: CountCtx; total: &mut u64) {
///         Next::Exit(*total)
///     }
/// }
/// ```
#[macro_export]
macro_rules! code_gear {
    (
        $(#[$meta:meta])*
        $vis:vis fn $name:ident ( $ctx_kw:ident : $ctx:ty ; $( $arg:ident : $ty:ty ),* $(,)? ) $body:block
    ) => {
        $crate::__private::paste! {
            $(#[$meta])*
            #[allow(clippy::needless_pass_by_ref_mut)]
            $vis fn $name( $( $arg : $ty ),* ) -> $crate::Next<$ctx> $body

            #[doc = "The stub of [`" $name "`]: fetches its DataGears from the context and calls it."]
            #[doc(hidden)]
            #[inline]
            $vis fn [<$name _stub>](ctx: &mut $ctx) -> $crate::Next<$ctx> {
                let _data_gears = <$ctx as $crate::Context>::data_gears(ctx);
                $name( $( _data_gears.$arg ),* )
            }

            #[doc = "The descriptor of the CodeGear [`" $name "`]."]
            $vis static [<$name:upper>]: $crate::Gear<$ctx> = $crate::Gear::new(
                concat!(module_path!(), "::", stringify!($name)),
                &[ $( stringify!($arg) ),* ],
                [<$name _stub>],
            );
        }
    };
}
