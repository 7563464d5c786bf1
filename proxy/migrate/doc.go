// Package migrate holds the pure logic behind imrelay's migration
// controls, which move a team from one IM provider to another gradually.
//
// A route divides its traffic between legs (providers) per (message,
// recipient): a weighted [Split] of hash [Bucket]s over a [Key] (sender,
// recipient or conversation), or a [Cohort] of listed recipients read from
// a file that is re-read when it changes. [Partition] cuts a canonical
// batch into one sub-batch per leg, and [Merge] joins the legs' results
// into the single results document the client is answered from. For a
// mirrored request, [Compare] sets the primary's outcome of every
// recipient beside the mirror's.
//
// Nothing here does I/O except reading a cohort file; the relay host
// decides what to send where.
package migrate
