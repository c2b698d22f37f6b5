//! The macros that turn a [`Processor`](crate::Processor) or [`Exporter`](crate::Exporter) into
//! a loadable plugin: they define `otelgate_plugin_entry_v1` and the `extern "C"` functions of
//! the table, each wrapped in `catch_unwind`, so a panic never unwinds into the host.

/// Exports a [`Processor`](crate::Processor):
/// `export_processor!(MyType, name: "scrub", version: "0.1.0", signals: SIGNAL_LOGS, capabilities: CAP_THREAD_SAFE | CAP_MUTATES);`
#[macro_export]
macro_rules! export_processor {
    ($ty:ty, name: $name:literal, version: $version:literal, signals: $signals:expr, capabilities: $caps:expr) => {
        $crate::__plugin_entry!($ty, $crate::Processor, KIND_PROCESSOR, $name, $version, $signals, $caps,
            process: Some(__og_process), export_batch: None);

        #[allow(unsafe_code)]
        mod __otelgate_processor {
            use super::*;
            use $crate::abi::*;
            use $crate::Processor as _;

            pub(super) unsafe extern "C" fn __og_process(
                instance: *mut ::std::os::raw::c_void,
                signal: u32,
                data: *const u8,
                len: usize,
                out: *mut OgBuf,
            ) -> u32 {
                let result = ::std::panic::catch_unwind(|| {
                    // SAFETY: `instance` came from our `create` and is alive until `destroy`.
                    let p = unsafe { &*(instance as *const $ty) };
                    // SAFETY: the host passes `len` readable bytes at `data`, valid during the call.
                    let batch = unsafe { ::std::slice::from_raw_parts(data, len) };
                    let Some(signal) = $crate::Signal::from_abi(signal) else {
                        return Err($crate::Failure::Permanent(format!("unknown signal {signal}")));
                    };
                    p.process(signal, batch)
                });
                let (status, bytes) = match result {
                    Ok(Ok($crate::Processed::Unchanged)) => (STATUS_UNCHANGED, None),
                    Ok(Ok($crate::Processed::Drop)) => (STATUS_DROP, None),
                    Ok(Ok($crate::Processed::Replace(v))) => (STATUS_OK, Some(v)),
                    Ok(Err(f)) => (f.status(), Some(f.into_message())),
                    Err(_) => (STATUS_PANICKED, Some(b"the plugin panicked".to_vec())),
                };
                if let (Some(v), false) = (bytes, out.is_null()) {
                    // SAFETY: the host passes a valid, writable OgBuf for the output.
                    unsafe { *out = $crate::plugin::into_buf(v) };
                }
                status
            }
        }
        use __otelgate_processor::__og_process;
    };
}

/// Exports an [`Exporter`](crate::Exporter):
/// `export_exporter!(MyType, name: "jsonl", version: "0.1.0", signals: SIGNAL_LOGS, capabilities: 0);`
#[macro_export]
macro_rules! export_exporter {
    ($ty:ty, name: $name:literal, version: $version:literal, signals: $signals:expr, capabilities: $caps:expr) => {
        $crate::__plugin_entry!($ty, $crate::Exporter, KIND_EXPORTER, $name, $version, $signals, $caps,
            process: None, export_batch: Some(__og_export_batch));

        #[allow(unsafe_code)]
        mod __otelgate_exporter {
            use super::*;
            use $crate::abi::*;
            use $crate::Exporter as _;

            pub(super) unsafe extern "C" fn __og_export_batch(
                instance: *mut ::std::os::raw::c_void,
                signal: u32,
                data: *const u8,
                len: usize,
                deadline_unix_ms: u64,
                error: *mut OgBuf,
            ) -> u32 {
                let result = ::std::panic::catch_unwind(|| {
                    // SAFETY: `instance` came from our `create` and is alive until `destroy`.
                    let e = unsafe { &*(instance as *const $ty) };
                    // SAFETY: the host passes `len` readable bytes at `data`, valid during the call.
                    let batch = unsafe { ::std::slice::from_raw_parts(data, len) };
                    let Some(signal) = $crate::Signal::from_abi(signal) else {
                        return Err($crate::Failure::Permanent(format!("unknown signal {signal}")));
                    };
                    e.export(signal, batch, deadline_unix_ms)
                });
                let (status, message) = match result {
                    Ok(Ok(())) => return STATUS_OK,
                    Ok(Err(f)) => (f.status(), f.into_message()),
                    Err(_) => (STATUS_PANICKED, b"the plugin panicked".to_vec()),
                };
                if !error.is_null() {
                    // SAFETY: the host passes a valid, writable OgBuf for the error.
                    unsafe { *error = $crate::plugin::into_buf(message) };
                }
                status
            }
        }
        use __otelgate_exporter::__og_export_batch;
    };
}

/// What both kinds share: `create`, `destroy`, `free_buf`, the static table and the entry
/// symbol (which also remembers the host's log function for [`crate::log`]).
#[doc(hidden)]
#[macro_export]
macro_rules! __plugin_entry {
    ($ty:ty, $trait:path, $kind:ident, $name:literal, $version:literal, $signals:expr, $caps:expr,
     process: $process:expr, export_batch: $export:expr) => {
        #[allow(unsafe_code)]
        mod __otelgate_plugin {
            use super::*;
            use $crate::abi::*;
            use $trait as _;

            unsafe extern "C" fn create(
                config: *const u8,
                len: usize,
                error: *mut OgBuf,
            ) -> *mut ::std::os::raw::c_void {
                let result = ::std::panic::catch_unwind(|| {
                    // SAFETY: the host passes `len` readable bytes at `config`, valid during the call.
                    let bytes = unsafe { ::std::slice::from_raw_parts(config, len) };
                    let text = ::std::str::from_utf8(bytes).map_err(|e| e.to_string())?;
                    <$ty>::new(text)
                });
                let message = match result {
                    Ok(Ok(p)) => return ::std::boxed::Box::into_raw(::std::boxed::Box::new(p)).cast(),
                    Ok(Err(m)) => m,
                    Err(_) => "the plugin panicked while reading its config".to_string(),
                };
                if !error.is_null() {
                    // SAFETY: the host passes a valid, writable OgBuf for the error.
                    unsafe { *error = $crate::plugin::into_buf(message.into_bytes()) };
                }
                ::std::ptr::null_mut()
            }

            unsafe extern "C" fn destroy(instance: *mut ::std::os::raw::c_void) {
                let _ = ::std::panic::catch_unwind(|| {
                    // SAFETY: called once, after every call on the instance returned.
                    drop(unsafe { ::std::boxed::Box::from_raw(instance as *mut $ty) });
                });
            }

            unsafe extern "C" fn free(buf: OgBuf) {
                // SAFETY: the host returns only buffers this plugin made with into_buf.
                let _ = ::std::panic::catch_unwind(|| unsafe { $crate::plugin::free_buf(buf) });
            }

            struct Table(OgPlugin);
            // SAFETY: the table is immutable and its pointers are to static data and functions.
            unsafe impl Sync for Table {}

            static TABLE: Table = Table(OgPlugin {
                abi_version: ABI_VERSION,
                struct_size: ::std::mem::size_of::<OgPlugin>() as u32,
                name: concat!($name, "\0").as_ptr().cast(),
                version: concat!($version, "\0").as_ptr().cast(),
                kind: $kind,
                signals: $signals,
                capabilities: $caps,
                reserved: 0,
                create: Some(create),
                process: $process,
                export_batch: $export,
                destroy: Some(destroy),
                free_buf: Some(free),
            });

            /// The plugin's entry point.
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn otelgate_plugin_entry_v1(host: *const OgHost) -> *const OgPlugin {
                // SAFETY: the host passes null or a valid static table.
                unsafe { $crate::log::remember_host(host) };
                &TABLE.0
            }
        }
        pub use __otelgate_plugin::otelgate_plugin_entry_v1;
    };
}
