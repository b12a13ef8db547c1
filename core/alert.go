package core

import (
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/cartwatch/cartwatch/event"
)

// MaxProducts is how many product ids an alert lists (first added first).
const MaxProducts = 16

// Alert is one abandoned cart. It holds no pointers.
type Alert struct {
	UserID      uint64
	FirstCartAt int64 // unix seconds
	LastCartAt  int64
	AbandonedAt int64 // the cart's deadline
	Items       int64
	ValueCents  int64
	NProducts   uint8
	SessionLen  uint8
	Products    [MaxProducts]uint64
	Session     [event.SessionMax]byte
	Partition   int32 // the source partition of the cart's events

	// Output order key (see docs/semantics.md "Order of alerts"): an alert
	// that falls due when the watermark passes its deadline sorts by
	// (AbandonedAt, 0, UserID); a cart whose deadline was already behind the
	// watermark when it was set sorts by (W then, 1, line of that event).
	// Both parts come from the input alone, so the order is the same for any
	// number of shards, parsers or chunk size.
	keyR    int64
	keyKind uint8
	keyTie  uint64
}

// alertLess is the total output order of alerts.
func alertLess(a, b *Alert) bool {
	if a.keyR != b.keyR {
		return a.keyR < b.keyR
	}
	if a.keyKind != b.keyKind {
		return a.keyKind < b.keyKind
	}
	return a.keyTie < b.keyTie
}

// AppendTime appends t (unix seconds) as RFC 3339 UTC, "2019-11-01T00:00:14Z".
func AppendTime(dst []byte, t int64) []byte {
	return time.Unix(t, 0).UTC().AppendFormat(dst, time.RFC3339)
}

// AppendJSON appends a as one JSON object (no newline) to dst. The session is
// written as a JSON string with the bytes that need it escaped.
func (a *Alert) AppendJSON(dst []byte) []byte {
	dst = append(dst, `{"user_id":`...)
	dst = strconv.AppendUint(dst, a.UserID, 10)
	dst = append(dst, `,"user_session":`...)
	dst = appendJSONString(dst, a.Session[:a.SessionLen])
	dst = append(dst, `,"first_cart_at":"`...)
	dst = AppendTime(dst, a.FirstCartAt)
	dst = append(dst, `","last_cart_at":"`...)
	dst = AppendTime(dst, a.LastCartAt)
	dst = append(dst, `","abandoned_at":"`...)
	dst = AppendTime(dst, a.AbandonedAt)
	dst = append(dst, `","items":`...)
	dst = strconv.AppendInt(dst, a.Items, 10)
	dst = append(dst, `,"cart_value_cents":`...)
	dst = strconv.AppendInt(dst, a.ValueCents, 10)
	dst = append(dst, `,"products":[`...)
	for i := 0; i < int(a.NProducts); i++ {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendUint(dst, a.Products[i], 10)
	}
	dst = append(dst, "]}"...)
	return dst
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s quoted as a JSON string that is always valid
// JSON and valid UTF-8: quote and backslash are escaped, control bytes
// written as \u00XX, valid multi-byte UTF-8 passed through, and each byte
// that is not part of a valid UTF-8 sequence (a stray byte, a sequence cut
// short, e.g. by the SessionMax truncation, an overlong or surrogate
// encoding) becomes U+FFFD, one for each such byte, as encoding/json has
// it. Such a session is replaced, not malformed (docs/semantics.md).
//
// NOTE: the loop is the ASCII one; only a byte >= 0x80 leaves it for the
// decoder, so ASCII sessions (all of the 2019-Nov file's) pay one compare a
// byte, as before.
func appendJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && n == 1 {
				dst = append(dst, 0xEF, 0xBF, 0xBD) // U+FFFD
			} else {
				dst = append(dst, s[i:i+n]...)
			}
			i += n
			continue
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
		default:
			dst = append(dst, c)
		}
		i++
	}
	return append(dst, '"')
}
