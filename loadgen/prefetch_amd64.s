//go:build !purego

#include "textflag.h"

// func prefetchRecs(recs []rec, tab unsafe.Pointer, shift uint, sess unsafe.Pointer)
//
// rec is {t, pt, user, sess uint32}: the product index is the low 30 bits
// of pt (offset 4), the session index is sess (offset 12), ^0 for none.
TEXT ·prefetchRecs(SB), NOSPLIT, $0-48
	MOVQ recs_base+0(FP), SI
	MOVQ recs_len+8(FP), R10
	MOVQ tab+24(FP), DI
	MOVQ shift+32(FP), CX
	MOVQ sess+40(FP), R9
	TESTQ R10, R10
	JEQ done
loop:
	MOVL 4(SI), AX
	ANDL $0x3fffffff, AX
	SHLQ CX, AX
	PREFETCHT0 (DI)(AX*1)
	MOVL 12(SI), BX
	CMPL BX, $-1
	JEQ next
	SHLQ $6, BX
	PREFETCHT0 (R9)(BX*1)
next:
	ADDQ $16, SI
	DECQ R10
	JNE loop
done:
	RET
