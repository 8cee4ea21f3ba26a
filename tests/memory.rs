//! The memory a registry holds for 32 issuers of 10 RSA-2048 keys each,
//! counted by a global allocator that tracks live heap bytes.
//!
//! The allocator sees every allocation of the process, so this file is a
//! test binary of its own with a single test on a current-thread runtime:
//! nothing else allocates while it measures. It counts the bytes asked for,
//! not what the system allocator adds around each block; the number of live
//! blocks is printed too, to judge that overhead.

#![expect(
    unsafe_code,
    reason = "a global allocator can only be written with unsafe code"
)]

#[path = "common/keys.rs"]
mod keys;
#[path = "common/memory_client.rs"]
mod memory_client;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use jwks_registry::KeyRegistryHandle;
use serde_json::json;

use keys::TestKey;
use memory_client::MemoryClient;

const ISSUERS: usize = 32;
const KEYS_PER_ISSUER: usize = 10;
const MIB: isize = 1024 * 1024;

/// Heap bytes handed out and not yet freed, over the whole process.
static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);
/// Heap blocks handed out and not yet freed.
static LIVE_BLOCKS: AtomicIsize = AtomicIsize::new(0);

/// The system allocator, counting what is live.
struct Counting;

// SAFETY: every method forwards its arguments unchanged to `System` and
// returns what `System` returned; the counters do not touch the memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        let block = unsafe { System.alloc(layout) };
        if !block.is_null() {
            count(layout.size() as isize, 1);
        }
        block
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc_zeroed`'s contract.
        let block = unsafe { System.alloc_zeroed(layout) };
        if !block.is_null() {
            count(layout.size() as isize, 1);
        }
        block
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        // SAFETY: `block` came from this allocator, that is from `System`,
        // with `layout`.
        unsafe { System.dealloc(block, layout) };
        count(-(layout.size() as isize), -1);
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `block` came from `System` with `layout`, and the caller
        // upholds `GlobalAlloc::realloc`'s contract for `new_size`.
        let moved = unsafe { System.realloc(block, layout, new_size) };
        // On failure the old block stays allocated, unchanged.
        if !moved.is_null() {
            count(new_size as isize - layout.size() as isize, 0);
        }
        moved
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn count(bytes: isize, blocks: isize) {
    LIVE_BYTES.fetch_add(bytes, Ordering::Relaxed);
    LIVE_BLOCKS.fetch_add(blocks, Ordering::Relaxed);
}

/// Live (bytes, blocks) now.
fn live() -> (isize, isize) {
    (
        LIVE_BYTES.load(Ordering::Relaxed),
        LIVE_BLOCKS.load(Ordering::Relaxed),
    )
}

/// 32 issuers of 10 RSA-2048 keys each, all fetched, take less than 1 MiB.
///
/// Each issuer's set holds the kids `k0` to `k9`, alternately the two RSA
/// fixture keys. The registry imports every JWK on its own (nothing is
/// shared between keys of equal material), so this costs what ten distinct
/// 2048-bit keys would.
#[tokio::test(flavor = "current_thread")]
async fn thirty_two_issuers_of_ten_rsa_keys_fit_in_a_mebibyte() {
    // Everything the test owns is built before the first reading: the keys,
    // the issuer names, and the client with its documents.
    let fixtures = [TestKey::rsa("fixture-a"), TestKey::rsa_other("fixture-b")];
    let issuers: Vec<String> = (0..ISSUERS)
        .map(|index| format!("https://issuer-{index:02}.example"))
        .collect();
    let mut client = MemoryClient::default();
    for issuer in &issuers {
        let keys: Vec<_> = (0..KEYS_PER_ISSUER)
            .map(|index| {
                let mut jwk = fixtures[index % 2].jwk();
                jwk["kid"] = json!(format!("k{index}"));
                jwk
            })
            .collect();
        client = client.with_issuer(issuer, json!({ "keys": keys }).to_string());
    }

    // Build, fetch every issuer, and let the finished fetch tasks go.
    let (bytes_before, blocks_before) = live();
    let registry = KeyRegistryHandle::builder()
        .valid_issuers(issuers.iter().cloned())
        .cache_max_issuers(ISSUERS)
        .http_client(client)
        .build()
        .expect("the settings are valid");
    for issuer in &issuers {
        registry.prefetch(issuer).await.expect("the keys load");
    }
    for _ in 0..16 {
        tokio::task::yield_now().await;
    }
    let (bytes_after, blocks_after) = live();

    // Every key is there, and nothing was evicted or refetched.
    for issuer in &issuers {
        for index in 0..KEYS_PER_ISSUER {
            registry
                .get_key_for(issuer, &format!("k{index}"))
                .await
                .expect("the key is cached");
        }
    }
    let stats = registry.stats();
    assert_eq!((stats.fetches_ok, stats.evictions), (ISSUERS as u64, 0));

    let bytes = bytes_after - bytes_before;
    let blocks = blocks_after - blocks_before;
    let keys = (ISSUERS * KEYS_PER_ISSUER) as isize;
    println!(
        "{ISSUERS} issuers x {KEYS_PER_ISSUER} RSA-2048 keys: {bytes} bytes ({:.1} KiB) in \
         {blocks} blocks; {} bytes and {} blocks a key",
        bytes as f64 / 1024.0,
        bytes / keys,
        blocks / keys,
    );
    assert!(
        bytes < MIB,
        "{bytes} bytes for {keys} keys, more than 1 MiB"
    );
}
