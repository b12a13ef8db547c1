// Package wheel is a hierarchical timing wheel over integer ticks with O(1)
// schedule, reschedule and cancel; a Wheel is not safe for concurrent use.
//
// The caller picks the unit of a tick: cartwatch uses seconds for event time
// and milliseconds for wall time. Deadlines are any int64.
//
// # Structure
//
// There are 8 levels of 64 slots each. A slot at level l spans 64^l ticks,
// so level 0 resolves single ticks and the 8 levels together resolve 2^48
// ticks (8.9 million years of seconds, 8,900 years of milliseconds). Each
// level keeps a 64-bit occupancy bitmap with one bit per non-empty slot.
//
// A timer with deadline d is filed by comparing d with the current time
// now, both as 64-bit keys: its level is the highest 6-bit group in which
// they differ, and its slot is d's 6-bit group at that level. A timer at
// level 0 thus sits in the slot of its exact tick; a timer at level l shares
// every group above l with now. A deadline that differs from now above bit
// 48 goes to a single overflow list, and a deadline at or before now is
// filed at now's own level-0 slot, so it fires at the next Advance.
//
// # Cascade rule
//
// When now reaches the first tick of an occupied slot at level l >= 1, that
// slot's timers are re-filed against the new now; each lands on a lower
// level because the groups above l and group l itself now agree. The
// overflow list is re-filed the same way when now reaches the 2^48-tick
// epoch of its smallest deadline. Because filing depends only on (d, now),
// all timers with one deadline always share a bucket, and buckets are FIFO
// lists, so ties fire in scheduling order without any sorting.
//
// The level comes from differing bits, not from distance: just before now
// crosses a 64^l boundary, even a near deadline is filed high (2 ticks ahead
// of now = -1 differ in the sign bit and go to the overflow list). Such a
// timer fires on time; it only pays one extra re-file when now crosses the
// boundary.
//
// # Costs
//
//   - Schedule, Reschedule, Cancel: O(1), a few index writes in a
//     pointer-free slab of 32-byte entries; no allocation once the slab has
//     grown (it doubles, and Grow pre-sizes it).
//   - Advance: O(levels) per occupied slot reached plus O(1) per fired timer
//     and per cascade step. Each timer cascades at most once per level it
//     descends, so at most 7 times plus one overflow re-file; timers
//     cancelled early, like most carts, never cascade. Idle time is skipped
//     through the bitmaps in O(levels) however many ticks pass.
//   - Memory: 32 bytes per timer slot ever live at once, plus 4 KiB.
//
// Handles are a slab index and a 32-bit generation: a stale handle, whether
// its timer fired or was cancelled and its entry since reused, is rejected
// and never touches another timer.
package wheel
