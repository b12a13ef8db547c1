// Package wheel is an intrusive hierarchical timing wheel over integer ticks
// with O(1) schedule, reschedule and cancel; a Wheel is not safe for
// concurrent use.
//
// Intrusive: the timers are the caller's. The caller keeps a slab of Nodes
// beside its own records, one per record at the same index, and names a
// timer by that index; the wheel keeps only its buckets' ends and bitmaps
// (4 KiB). So a timer costs its 12-byte Node (its deadline's low 32 bits
// and two links) and nothing else: no slab entry of the wheel's, no handle
// in the record, no allocation for a deadline less than 2^32 ticks ahead
// (136 years of seconds). A farther one, or one already past, keeps its
// full deadline in a map of the wheel's. cartwatch's shards keep one Node per open cart.
//
// NOTE: a wheel generic over an accessor of the caller's record (links
// read through a method of a type parameter) would put the links inside the
// record itself, but Go calls a type parameter's methods through the
// instantiation's dictionary, an indirect call per link: the parallel slab
// of Nodes is read directly.
//
// The caller picks the unit of a tick: cartwatch uses seconds for event time.
// Deadlines are any int64.
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
// A bucket is a doubly linked list through its Nodes whose two ends link to
// the bucket's own sentinel (one of the top 513 uint32 values), so taking a
// node out finds its bucket from its neighbours: a Node holds no bucket
// number.
//
// The level comes from differing bits, not from distance: just before now
// crosses a 64^l boundary, even a near deadline is filed high (2 ticks ahead
// of now = -1 differ in the sign bit and go to the overflow list). Such a
// timer fires on time; it only pays one extra re-file when now crosses the
// boundary.
//
// # Costs
//
//   - Schedule (a new timer or a move) and Cancel: O(1), a few index writes
//     in the caller's pointer-free slab of 12-byte Nodes; no allocation
//     but a far deadline's map entry.
//   - Advance: O(levels) per occupied slot reached plus O(1) per fired timer
//     and per cascade step. Each timer cascades at most once per level it
//     descends, so at most 7 times plus one overflow re-file; timers
//     cancelled early, like most carts, never cascade. Idle time is skipped
//     through the bitmaps in O(levels) however many ticks pass.
//   - Memory: the caller's 12 bytes per Node, plus 4 KiB (and a map entry
//     per far deadline).
//
// Advance hands back what fired as indices appended to the caller's slice,
// not through a callback: the caller acts on them after the wheel is
// consistent again, and a fired Node keeps its deadline for it (Deadline).
package wheel
