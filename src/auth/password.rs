//! Argon2id password hashing on a few dedicated threads, each with its own
//! reused working memory, behind a bounded queue.
//!
//! Memory is what this bounds: a hash needs 19 MiB. Hashes run only on the
//! `permits` threads of the [`Hasher`], each hashing into one buffer that it
//! reuses through a burst of sign-ins and gives back to the system when the
//! burst is over, so hashing never holds more than `permits` × 19 MiB
//! whatever the number of concurrent logins, and nothing between bursts (a
//! blocking-pool thread per hash would keep up to one allocator arena of
//! 19 MiB per thread). Requests beyond `permits + queue` are refused at
//! once (503 with `Retry-After`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::oneshot;

use crate::error::AppError;

/// OWASP's minimum for Argon2id: 19 MiB, 2 passes, 1 lane.
fn params() -> Params {
    // These constants are valid; Params::new only fails on out-of-range input.
    Params::new(19 * 1024, 2, 1, None).unwrap_or_default()
}

/// Largest working memory a stored hash may ask for (64 MiB): a hash with
/// more never matches instead of growing the buffer without bound.
const MAX_BLOCKS: usize = 64 * 1024;

/// Hashes a password (PHC string with salt and parameters) into `memory`.
fn hash_with(memory: &mut Vec<Block>, password: &str) -> Result<String, AppError> {
    let fail = |e: &dyn std::fmt::Display| AppError::internal(format!("hashing password: {e}"));
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| fail(&e))?;
    let params = params();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let blocks = blocks(memory, params.block_count()).ok_or_else(|| fail(&"memory"))?;
    let output = Output::init_with(Params::DEFAULT_OUTPUT_LEN, |out| {
        argon.hash_password_into_with_memory(password.as_bytes(), &salt_bytes, out, &mut *blocks).map_err(Into::into)
    })
    .map_err(|e| fail(&e))?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(|e| fail(&e))?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(hash.to_string())
}

/// Checks a password against a stored hash using `memory`; a malformed
/// hash never matches. The comparison is constant-time (`Output`'s `==`).
fn verify_with(memory: &mut Vec<Block>, hash: &str, password: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else { return false };
    let (Ok(algorithm), Ok(params), Some(expected), Some(salt)) =
        (Algorithm::try_from(parsed.algorithm), Params::try_from(&parsed), parsed.hash, parsed.salt)
    else {
        return false;
    };
    let version = parsed.version.map(Version::try_from).transpose().ok().flatten().unwrap_or_default();
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else { return false };
    let Some(blocks) = blocks(memory, params.block_count()) else { return false };
    let argon = Argon2::new(algorithm, version, params);
    Output::init_with(expected.len(), |out| {
        argon.hash_password_into_with_memory(password.as_bytes(), salt, out, &mut *blocks).map_err(Into::into)
    })
    .is_ok_and(|computed| computed == expected)
}

/// Capacity a hashing buffer is allocated with: 33 MiB of blocks, above
/// the largest threshold (32 MiB) under which glibc's malloc may serve an
/// allocation from its heaps. Such a buffer is always a mapping of its own,
/// so that dropping it gives the memory back to the system; only the blocks
/// a hash uses (19 MiB) are ever touched, and so resident. A 19 MiB buffer
/// freed and allocated again instead stays in the thread's arena, and
/// fragments it (measured: 259 MiB resident after the sign-ins of a load
/// test, against 69 MiB with one buffer kept per thread).
const MAPPED_BLOCKS: usize = 33 * 1024;

/// The first `count` blocks of the thread's buffer, allocating it (as a
/// mapping of its own, [`MAPPED_BLOCKS`]) if it was given back, and growing
/// it if a hash needs more (never past [`MAX_BLOCKS`]).
fn blocks(memory: &mut Vec<Block>, count: usize) -> Option<&mut [Block]> {
    if count > MAX_BLOCKS {
        return None;
    }
    if memory.len() < count {
        if memory.capacity() < count {
            *memory = Vec::with_capacity(count.max(MAPPED_BLOCKS));
        }
        memory.resize(count, Block::default());
    }
    memory.get_mut(..count)
}

/// How long a hashing thread keeps its buffer without work: a burst of
/// sign-ins reuses it, and it is given back once the burst is over, so
/// that hashing leaves nothing resident behind it.
const IDLE_RELEASE: std::time::Duration = std::time::Duration::from_millis(500);

/// Hashes a password outside any [`Hasher`] (start-up and CLI only: it
/// allocates its own 19 MiB).
pub fn hash_blocking(password: &str) -> Result<String, AppError> {
    hash_with(&mut Vec::new(), password)
}

/// Checks a password against a stored hash outside any [`Hasher`].
pub fn verify_blocking(hash: &str, password: &str) -> bool {
    verify_with(&mut Vec::new(), hash, password)
}

/// A hash of a random password, verified against when the email is unknown
/// so that an unknown account takes as long as a wrong password.
pub fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let random: [u8; 16] = rand::random();
        hash_blocking(&hex::encode(random)).unwrap_or_default()
    })
}

type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

/// Runs hashes on `permits` dedicated threads, at most `permits + queue`
/// requests admitted at once.
#[derive(Clone)]
pub struct Hasher {
    jobs: mpsc::Sender<Job>,
    admitted: Arc<AtomicUsize>,
    limit: usize,
}

impl Hasher {
    /// Starts `permits` hashing threads; they end when the last clone of
    /// the hasher is dropped.
    pub fn new(permits: usize, queue: usize) -> Self {
        let permits = permits.max(1);
        let (jobs, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..permits {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new().name(format!("argon2-{i}")).spawn(move || {
                // Allocated by the first hash of a burst, reused by the
                // others, given back when no work came for a while.
                let mut memory: Vec<Block> = Vec::new();
                loop {
                    let job = match rx.lock() {
                        Ok(guard) => guard.recv_timeout(IDLE_RELEASE),
                        Err(poisoned) => poisoned.into_inner().recv_timeout(IDLE_RELEASE),
                    };
                    match job {
                        Ok(job) => job(&mut memory),
                        Err(mpsc::RecvTimeoutError::Timeout) => memory = Vec::new(),
                        Err(mpsc::RecvTimeoutError::Disconnected) => break,
                    }
                }
            });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a password hashing thread");
            }
        }
        Self { jobs, admitted: Arc::new(AtomicUsize::new(0)), limit: permits + queue }
    }

    /// Requests admitted now (running or waiting).
    pub fn admitted(&self) -> usize {
        self.admitted.load(Ordering::Relaxed)
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, AppError> {
        if self.admitted.fetch_add(1, Ordering::AcqRel) >= self.limit {
            self.admitted.fetch_sub(1, Ordering::AcqRel);
            return Err(AppError::Overloaded("too many sign-ins are being checked right now; retry in a second"));
        }
        let (tx, rx) = oneshot::channel();
        let admitted = self.admitted.clone();
        let span = tracing::Span::current();
        let job: Job = Box::new(move |memory| {
            // A client that gave up is not worth 50 ms of CPU.
            if !tx.is_closed() {
                let _ = tx.send(span.in_scope(|| work(memory)));
            }
            admitted.fetch_sub(1, Ordering::AcqRel);
        });
        if self.jobs.send(job).is_err() {
            self.admitted.fetch_sub(1, Ordering::AcqRel);
            return Err(AppError::internal("password hashing threads are gone"));
        }
        rx.await.map_err(|_| AppError::internal("hash task failed"))
    }

    /// Hashes a new password.
    pub async fn hash(&self, password: String) -> Result<String, AppError> {
        self.run(move |memory| hash_with(memory, &password)).await?
    }

    /// Verifies `password` against `hash`, or against the dummy hash when
    /// there is no account, so that both take the same time.
    pub async fn verify(&self, hash: Option<String>, password: String) -> Result<bool, AppError> {
        self.run(move |memory| match hash {
            Some(h) => verify_with(memory, &h, &password),
            None => {
                verify_with(memory, dummy_hash(), &password);
                false
            }
        })
        .await
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_and_a_wrong_password_does_not() {
        let mut memory = Vec::new();
        let hash = hash_with(&mut memory, "Correct-Horse-Battery-9271").expect("hash");
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(verify_with(&mut memory, &hash, "Correct-Horse-Battery-9271"));
        assert!(!verify_with(&mut memory, &hash, "Correct-Horse-Battery-9272"));
        assert!(!verify_with(&mut memory, "not a hash", "x"));
        // Hashes made by the argon2 crate's own API verify too (existing rows).
        use argon2::password_hash::PasswordHasher as _;
        let salt = SaltString::encode_b64(b"0123456789abcdef").expect("salt");
        let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, params())
            .hash_password(b"Correct-Horse-Battery-9271", &salt)
            .expect("hash")
            .to_string();
        assert!(verify_with(&mut memory, &theirs, "Correct-Horse-Battery-9271"));
    }

    #[test]
    fn a_buffer_is_allocated_beyond_the_heap_threshold_and_reused() {
        let mut memory = Vec::new();
        assert_eq!(blocks(&mut memory, 19 * 1024).map(|b| b.len()), Some(19 * 1024));
        // Its own mapping (given back whole when dropped), of which a hash
        // touches only what it uses.
        assert!(memory.capacity() * std::mem::size_of::<Block>() > 32 << 20, "{}", memory.capacity());
        assert_eq!(blocks(&mut memory, 8).map(|b| b.len()), Some(8));
        assert_eq!(blocks(&mut memory, 40 * 1024).map(|b| b.len()), Some(40 * 1024));
        assert!(blocks(&mut memory, MAX_BLOCKS + 1).is_none());
        // Reused while big enough: no new allocation for a smaller hash.
        let mut again = Vec::new();
        blocks(&mut again, 19 * 1024);
        let first = again.as_ptr();
        blocks(&mut again, 1024);
        assert_eq!(again.as_ptr(), first);
    }
}
