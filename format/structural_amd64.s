//go:build !purego

#include "textflag.h"

// func scanBlocksAVX2(data []byte, mask []uint64)
//
// For each whole 64-byte block k of data, writes mask[3k] (C: bytes == ','),
// mask[3k+1] (X: bytes < 0x2D other than ',') and mask[3k+2] (D: bytes
// '0'-'9'). Unsigned compares by min: b <= c iff min(b, c) == b.
TEXT ·scanBlocksAVX2(SB), NOSPLIT, $0-48
	MOVQ data_base+0(FP), SI
	MOVQ data_len+8(FP), CX
	MOVQ mask_base+24(FP), DI
	SHRQ $6, CX
	JZ   done
	MOVQ $0x2c2c2c2c2c2c2c2c, AX
	MOVQ AX, X10
	VPBROADCASTQ X10, Y10 // ',' and the < 0x2D limit
	MOVQ $0xd0d0d0d0d0d0d0d0, AX
	MOVQ AX, X11
	VPBROADCASTQ X11, Y11 // -'0'
	MOVQ $0x0909090909090909, AX
	MOVQ AX, X12
	VPBROADCASTQ X12, Y12 // 9

loop:
	// One page ahead: the hardware prefetcher stops at page boundaries,
	// and the mapped file's first touch is the run's largest memory
	// cost (-8% user CPU on the month, against no prefetch).
	PREFETCHT0 4096(SI)
	VMOVDQU 0(SI), Y0
	VMOVDQU 32(SI), Y1
	VPCMPEQB Y10, Y0, Y2 // C
	VPCMPEQB Y10, Y1, Y3
	VPMINUB  Y10, Y0, Y4 // < 0x2D
	VPCMPEQB Y0, Y4, Y4
	VPMINUB  Y10, Y1, Y5
	VPCMPEQB Y1, Y5, Y5
	VPADDB   Y11, Y0, Y6 // b - '0' <= 9
	VPMINUB  Y12, Y6, Y7
	VPCMPEQB Y6, Y7, Y6
	VPADDB   Y11, Y1, Y8
	VPMINUB  Y12, Y8, Y9
	VPCMPEQB Y8, Y9, Y8
	VPMOVMSKB Y2, AX
	VPMOVMSKB Y3, BX
	SHLQ $32, BX
	ORQ  BX, AX
	VPMOVMSKB Y4, R8
	VPMOVMSKB Y5, R9
	SHLQ $32, R9
	ORQ  R9, R8
	XORQ AX, R8 // C is a subset of < 0x2D: X = that minus C
	VPMOVMSKB Y6, DX
	VPMOVMSKB Y8, R10
	SHLQ $32, R10
	ORQ  R10, DX
	MOVQ AX, 0(DI)
	MOVQ R8, 8(DI)
	MOVQ DX, 16(DI)
	ADDQ $64, SI
	ADDQ $24, DI
	DECQ CX
	JNZ  loop
	VZEROUPPER

done:
	RET

// func scanBlocksAVX512(data []byte, mask []uint64)
//
// scanBlocksAVX2 with 64-byte registers: each compare writes its block's
// bitmap straight into a mask register.
TEXT ·scanBlocksAVX512(SB), NOSPLIT, $0-48
	MOVQ data_base+0(FP), SI
	MOVQ data_len+8(FP), CX
	MOVQ mask_base+24(FP), DI
	SHRQ $6, CX
	JZ   done512
	MOVQ $0x2c2c2c2c2c2c2c2c, AX
	VPBROADCASTQ AX, Z10 // ',' and the < 0x2D limit
	MOVQ $0xd0d0d0d0d0d0d0d0, AX
	VPBROADCASTQ AX, Z11 // -'0'
	MOVQ $0x0909090909090909, AX
	VPBROADCASTQ AX, Z12 // 9

loop512:
	PREFETCHT0 4096(SI)
	VMOVDQU8 0(SI), Z0
	VPCMPEQB Z10, Z0, K1    // C
	VPCMPUB  $2, Z10, Z0, K2 // b <= 0x2C
	VPADDB   Z11, Z0, Z1
	VPCMPUB  $2, Z12, Z1, K3 // b - '0' <= 9
	KMOVQ K1, AX
	KMOVQ K2, BX
	KMOVQ K3, DX
	XORQ AX, BX // C is a subset of < 0x2D: X = that minus C
	MOVQ AX, 0(DI)
	MOVQ BX, 8(DI)
	MOVQ DX, 16(DI)
	ADDQ $64, SI
	ADDQ $24, DI
	DECQ CX
	JNZ  loop512
	VZEROUPPER

done512:
	RET

// func viewRunAVX2(data []byte, mask []uint64, s, stop int, tmpl *[32]byte) (next, views int)
//
// viewRunGo for AVX2 and BMI1/2 CPUs: the same checks in the
// same order (see there for what each means), with the row's first 29
// bytes (the cached time and ",view,") one 32-byte compare against tmpl.
// The caller has checked what the loop does not: stop <= len(data)-32 and
// mask long enough for every row starting before stop. Positions relative
// to i = s+29 as in the Go loop; idxN = 63-zN, the bit of a comma in h.
TEXT ·viewRunAVX2(SB), NOSPLIT, $0-88
	MOVQ data_base+0(FP), SI
	MOVQ mask_base+24(FP), DI
	MOVQ s+48(FP), R9
	MOVQ tmpl+64(FP), AX
	VMOVDQU (AX), Y15
	MOVQ $0, views+80(FP)

vloop:
	CMPQ R9, stop+56(FP)
	JGE  vdone
	VMOVDQU (SI)(R9*1), Y0
	VPCMPEQB Y15, Y0, Y0
	VPMOVMSKB Y0, AX
	NOTL AX
	TESTL $0x1fffffff, AX
	JNZ  vdone

	// BX = the word index of i's block, CX = r = i&63, DX = r^63.
	LEAQ 29(R9), BX
	MOVQ BX, CX
	ANDQ $63, CX
	SHRQ $6, BX
	LEAQ (BX)(BX*2), BX
	MOVQ CX, DX
	XORQ $63, DX

	// x0 must be empty, x1 not: R12 = sh, the line end e = 64+sh.
	MOVQ  8(DI)(BX*8), AX
	SHRXQ CX, AX, AX
	MOVQ  32(DI)(BX*8), R12
	LEAQ  (R12)(R12*1), R13
	SHLXQ DX, R13, R13
	ORQ   R13, AX
	JNZ   vdone
	SHRXQ CX, R12, R12
	MOVQ  56(DI)(BX*8), R13
	ADDQ  R13, R13
	SHLXQ DX, R13, R13
	ORQ   R13, R12
	JZ    vdone
	TZCNTQ R12, R12

	// end = s+93+sh: inside data, a '\n'.
	LEAQ 93(R9)(R12*1), R8
	CMPQ R8, data_len+8(FP)
	JGE  vdone
	CMPB (SI)(R8*1), $10
	JNE  vdone

	// AX = c0, R13 = c1, R8 = d0, R10 = d1.
	MOVQ  0(DI)(BX*8), AX
	SHRXQ CX, AX, AX
	MOVQ  24(DI)(BX*8), R13
	LEAQ  (R13)(R13*1), R8
	SHLXQ DX, R8, R8
	ORQ   R8, AX
	SHRXQ CX, R13, R13
	MOVQ  48(DI)(BX*8), R8
	ADDQ  R8, R8
	SHLXQ DX, R8, R8
	ORQ   R8, R13
	MOVQ  16(DI)(BX*8), R8
	MOVQ  40(DI)(BX*8), R10
	MOVQ  64(DI)(BX*8), BX
	SHRXQ CX, R8, R8
	LEAQ  (R10)(R10*1), R11
	SHLXQ DX, R11, R11
	ORQ   R11, R8
	SHRXQ CX, R10, R10
	ADDQ  BX, BX
	SHLXQ DX, BX, BX
	ORQ   BX, R10

	// BX = h, R10 = dh: the C and D bits below e, bit 63 is e-1.
	MOVQ  R12, DX
	XORQ  $63, DX
	SHRXQ R12, AX, BX
	LEAQ  (R13)(R13*1), CX
	SHLXQ DX, CX, CX
	ORQ   CX, BX
	SHRXQ R12, R8, CX
	ADDQ  R10, R10
	SHLXQ DX, R10, R10
	ORQ   CX, R10

	// product_id: a1 = tz(c0) digits, 1-19 of them.
	TZCNTQ AX, CX
	NOTQ   R8
	TZCNTQ R8, R8
	CMPQ   R8, CX
	JNE    vdone
	DECQ   CX
	CMPQ   CX, $19
	JAE    vdone

	// CX = t, the fourth comma from the bottom: in c0 after the first
	// three (which must be there), else 64 + the first of c1.
	BLSRQ  AX, CX
	BLSRQ  CX, CX
	JZ     vdone
	BLSRQ  CX, CX
	TZCNTQ R13, DX
	ADDQ   $64, DX
	TZCNTQ CX, CX
	CMOVQCS DX, CX

	// AX, DX, R8 = idx6, idx5, idx4: the top three commas of h.
	BSRQ BX, AX
	JZ   vdone
	BTCQ AX, BX
	BSRQ BX, DX
	JZ   vdone
	BTCQ DX, BX
	BSRQ BX, R8
	JZ   vdone

	// Six commas in all: t is the third from the top, e-1-z4 = sh+idx4.
	LEAQ (R12)(R8*1), BX
	CMPQ BX, CX
	JNE  vdone

	// user_id: idx6-idx5-1 digits, 1-19 of them.
	LEAQ   1(DX), CX
	SHRXQ  CX, R10, R13
	NOTQ   R13
	TZCNTQ R13, R13
	SUBQ   DX, AX
	DECQ   AX
	CMPQ   R13, AX
	JNE    vdone
	DECQ   AX
	CMPQ   AX, $19
	JAE    vdone

	// price: R13 = pw, its D bits from bit 0; AX = q, the digits before
	// any '.', 1-10; DX = pn, its length.
	LEAQ   1(R8), CX
	SHRXQ  CX, R10, R13
	MOVQ   R13, AX
	NOTQ   AX
	TZCNTQ AX, AX
	LEAQ   -1(AX), CX
	CMPQ   CX, $10
	JAE    vdone
	SUBQ   R8, DX
	DECQ   DX
	CMPQ   AX, DX
	JEQ    vok

	// Else a '.' at byte q and f = pn-q-1 (1 or 2) digits after it.
	SUBQ   AX, DX
	DECQ   DX
	LEAQ   -1(DX), CX
	CMPQ   CX, $2
	JAE    vdone
	LEAQ   30(R9)(R12*1), CX
	ADDQ   R8, CX
	ADDQ   AX, CX
	CMPB   (SI)(CX*1), $0x2e
	JNE    vdone
	INCQ   AX
	SHRXQ  AX, R13, R13
	NOTQ   R13
	TZCNTQ R13, R13
	CMPQ   R13, DX
	JNE    vdone

vok:
	INCQ views+80(FP)
	LEAQ 94(R9)(R12*1), R9
	JMP  vloop

vdone:
	MOVQ R9, next+72(FP)
	VZEROUPPER
	RET
