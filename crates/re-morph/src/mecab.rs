//! MeCab backend of [`Morphology`]: a small FFI to `libmecab.so.2`, loaded at run time with `libloading` so that
//! the workspace builds on machines without MeCab. The only `unsafe` code of the workspace's morphology lives here.
//!
//! Thread safety: a `mecab_t` handle must not be used by two threads at once. [`Mecab`] keeps its handle behind a
//! [`Mutex`], so it is `Send + Sync` and calls on one instance are serialised; for parallel analysis create one
//! instance per thread ([`Mecab::new_instance`] shares the loaded library and only opens a new handle).
use crate::error::{MorphError, Result};
use crate::morph::{Morpheme, Morphology};
use libloading::Library;
use std::ffi::{c_char, c_int, c_uchar, c_uint, c_ushort, c_void, CStr, CString};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// `struct mecab_node_t` from `mecab.h` (MeCab 0.996), up to the fields we read. We only ever read nodes that
/// MeCab allocated, through pointers, so the trailing fields need not be declared.
#[repr(C)]
struct MecabNode {
    prev: *const MecabNode,
    next: *const MecabNode,
    enext: *const MecabNode,
    bnext: *const MecabNode,
    rpath: *const c_void,
    lpath: *const c_void,
    surface: *const c_char,
    feature: *const c_char,
    id: c_uint,
    length: c_ushort,
    rlength: c_ushort,
    rc_attr: c_ushort,
    lc_attr: c_ushort,
    posid: c_ushort,
    char_type: c_uchar,
    stat: c_uchar,
}

const MECAB_BOS_NODE: c_uchar = 2;
const MECAB_EOS_NODE: c_uchar = 3;
const MECAB_EON_NODE: c_uchar = 4;

type MecabNew = unsafe extern "C" fn(c_int, *mut *mut c_char) -> *mut c_void;
type MecabStrerror = unsafe extern "C" fn(*mut c_void) -> *const c_char;
type MecabDestroy = unsafe extern "C" fn(*mut c_void);
type MecabSparseToNode2 = unsafe extern "C" fn(*mut c_void, *const c_char, usize) -> *const MecabNode;

/// The loaded library and the functions we call.
struct MecabLib {
    _lib: Library,
    new: MecabNew,
    strerror: MecabStrerror,
    destroy: MecabDestroy,
    sparse_tonode2: MecabSparseToNode2,
}

impl MecabLib {
    fn load() -> Result<MecabLib> {
        let candidates: Vec<String> = match std::env::var("KRE_MECAB_LIB") {
            Ok(p) if !p.is_empty() => vec![p],
            _ => vec!["libmecab.so.2".into(), "libmecab.so".into(), "libmecab.dylib".into()],
        };
        let mut errors = Vec::new();
        for name in &candidates {
            // SAFETY: loading libmecab runs no initialisation code with preconditions.
            match unsafe { Library::new(name) } {
                Ok(lib) => {
                    // SAFETY: the signatures match mecab.h of MeCab 0.99x.
                    unsafe {
                        let sym = |n: &[u8]| -> Result<*const c_void> {
                            lib.get::<*const c_void>(n).map(|s| *s).map_err(|e| MorphError::MecabMissing {
                                message: format!("{name} lacks {}: {e}", String::from_utf8_lossy(n)),
                            })
                        };
                        let new: MecabNew = std::mem::transmute(sym(b"mecab_new\0")?);
                        let strerror: MecabStrerror = std::mem::transmute(sym(b"mecab_strerror\0")?);
                        let destroy: MecabDestroy = std::mem::transmute(sym(b"mecab_destroy\0")?);
                        let sparse_tonode2: MecabSparseToNode2 = std::mem::transmute(sym(b"mecab_sparse_tonode2\0")?);
                        return Ok(MecabLib { _lib: lib, new, strerror, destroy, sparse_tonode2 });
                    }
                }
                Err(e) => errors.push(format!("{name}: {e}")),
            }
        }
        Err(MorphError::MecabMissing { message: format!("cannot load libmecab ({})", errors.join("; ")) })
    }
}

fn shared_lib() -> Result<Arc<MecabLib>> {
    static LIB: std::sync::OnceLock<std::result::Result<Arc<MecabLib>, String>> = std::sync::OnceLock::new();
    LIB.get_or_init(|| MecabLib::load().map(Arc::new).map_err(|e| e.to_string()))
        .clone()
        .map_err(|message| MorphError::MecabMissing { message })
}

/// The default dictionary directory: `$KRE_MECAB_DICDIR`, else `$KRE_CACHE/mecab-ko-dic/dicdir`
/// (`$KRE_CACHE` defaults to `$HOME/.cache/kre`).
pub fn default_dicdir() -> PathBuf {
    if let Ok(d) = std::env::var("KRE_MECAB_DICDIR") {
        if !d.is_empty() {
            return PathBuf::from(d);
        }
    }
    let cache = match std::env::var("KRE_CACHE") {
        Ok(c) if !c.is_empty() => PathBuf::from(c),
        _ => PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| ".".into())).join(".cache/kre"),
    };
    cache.join("mecab-ko-dic/dicdir")
}

/// An open MeCab tagger. One handle guarded by a mutex; see the module docs for threads.
pub struct Mecab {
    lib: Arc<MecabLib>,
    dicdir: PathBuf,
    handle: Mutex<Handle>,
}

struct Handle(*mut c_void);
// SAFETY: a mecab_t may move between threads; concurrent use is prevented by the Mutex around it.
unsafe impl Send for Handle {}

impl Mecab {
    /// Open MeCab with the default dictionary ([`default_dicdir`]).
    pub fn new() -> Result<Mecab> {
        Mecab::with_dicdir(&default_dicdir())
    }

    /// Open MeCab with the dictionary in `dicdir` (a directory holding `sys.dic`; `dicdir/mecabrc` is used when it
    /// exists, which keeps the system mecabrc and its default dictionary out of the way).
    pub fn with_dicdir(dicdir: &Path) -> Result<Mecab> {
        if !dicdir.join("sys.dic").is_file() {
            return Err(MorphError::MecabMissing {
                message: format!("mecab-ko-dic dictionary not found ({} has no sys.dic)", dicdir.display()),
            });
        }
        let lib = shared_lib()?;
        let handle = open_handle(&lib, dicdir)?;
        Ok(Mecab { lib, dicdir: dicdir.to_path_buf(), handle: Mutex::new(handle) })
    }

    /// A second, independent handle on the same dictionary (for another thread).
    pub fn new_instance(&self) -> Result<Mecab> {
        let handle = open_handle(&self.lib, &self.dicdir)?;
        Ok(Mecab { lib: self.lib.clone(), dicdir: self.dicdir.clone(), handle: Mutex::new(handle) })
    }

    pub fn dicdir(&self) -> &Path {
        &self.dicdir
    }
}

fn open_handle(lib: &MecabLib, dicdir: &Path) -> Result<Handle> {
    let dic = dicdir.to_string_lossy().into_owned();
    let mut args = vec!["mecab".to_string(), "-d".into(), dic.clone()];
    let rc = dicdir.join("mecabrc");
    if rc.is_file() {
        args.push("-r".into());
        args.push(rc.to_string_lossy().into_owned());
    }
    let cargs: Vec<CString> = args
        .iter()
        .map(|a| CString::new(a.as_str()))
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| MorphError::Config(format!("dictionary path {dic:?} contains a NUL byte")))?;
    let mut argv: Vec<*mut c_char> = cargs.iter().map(|c| c.as_ptr() as *mut c_char).collect();
    // SAFETY: argv holds argc valid NUL-terminated strings that outlive the call; MeCab copies what it keeps.
    let handle = unsafe { (lib.new)(argv.len() as c_int, argv.as_mut_ptr()) };
    if handle.is_null() {
        // SAFETY: mecab_strerror(NULL) returns the global error message.
        let msg = unsafe { cstr((lib.strerror)(std::ptr::null_mut())) };
        return Err(MorphError::MecabMissing { message: format!("mecab_new failed for {dic}: {msg}") });
    }
    Ok(Handle(handle))
}

/// # Safety
/// `p` is null or a valid NUL-terminated string.
unsafe fn cstr(p: *const c_char) -> String {
    if p.is_null() {
        String::new()
    } else {
        CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

impl Drop for Mecab {
    fn drop(&mut self) {
        if let Ok(h) = self.handle.get_mut() {
            if !h.0.is_null() {
                // SAFETY: the handle came from mecab_new and is destroyed once.
                unsafe { (self.lib.destroy)(h.0) };
                h.0 = std::ptr::null_mut();
            }
        }
    }
}

impl Morphology for Mecab {
    fn analyze(&self, text: &str) -> Result<Vec<Morpheme>> {
        if text.trim().is_empty() {
            return Ok(Vec::new());
        }
        // MeCab stops at NUL; a space keeps every byte offset unchanged.
        let input: std::borrow::Cow<str> =
            if text.contains('\0') { text.replace('\0', " ").into() } else { text.into() };
        let guard = self.handle.lock().map_err(|_| MorphError::Mecab("a previous MeCab call panicked".into()))?;
        let base = input.as_ptr() as usize;
        // SAFETY: the handle is valid and used by this thread only (mutex); MeCab reads `input.len()` bytes, which
        // stay alive (and unmodified) until we are done walking the returned nodes, which MeCab owns until the
        // next call on this handle, itself prevented by the guard we hold.
        let mut node = unsafe { (self.lib.sparse_tonode2)(guard.0, input.as_ptr() as *const c_char, input.len()) };
        if node.is_null() {
            // SAFETY: the handle is valid.
            let msg = unsafe { cstr((self.lib.strerror)(guard.0)) };
            return Err(MorphError::Mecab(format!("parse failed: {msg}")));
        }
        let mut out = Vec::new();
        let mut cursor = 0usize; // byte position after the previous morpheme
        let mut char_cursor = 0usize; // its character index
        while !node.is_null() {
            // SAFETY: non-null nodes returned by MeCab are valid until the next call on the handle.
            let n = unsafe { &*node };
            node = n.next;
            if matches!(n.stat, MECAB_BOS_NODE | MECAB_EOS_NODE | MECAB_EON_NODE) || n.length == 0 {
                continue;
            }
            let len = n.length as usize;
            // Surfaces point into our buffer; `rlength - length` bytes of whitespace precede each one.
            let ptr = n.surface as usize;
            let start = if ptr >= base && ptr + len <= base + input.len() {
                ptr - base
            } else {
                return Err(MorphError::Mecab(format!(
                    "node surface lies outside the input (sentence {:?})",
                    truncate(text)
                )));
            };
            let end = start + len;
            if start < cursor || !input.is_char_boundary(start) || !input.is_char_boundary(end) {
                return Err(MorphError::Mecab(format!(
                    "node at bytes {start}..{end} is not on character boundaries (sentence {:?})",
                    truncate(text)
                )));
            }
            char_cursor += input[cursor..start].chars().count();
            let surface = &input[start..end];
            let n_chars = surface.chars().count();
            // SAFETY: feature is a NUL-terminated string owned by MeCab.
            let feature = unsafe { cstr(n.feature) };
            let tag = feature.split(',').next().unwrap_or("").to_string();
            out.push(Morpheme {
                surface: text[start..end].to_string(),
                tag,
                feature,
                start: char_cursor,
                end: char_cursor + n_chars,
                byte_start: start,
                byte_end: end,
            });
            char_cursor += n_chars;
            cursor = end;
        }
        Ok(out)
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}
