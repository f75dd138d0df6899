//go:build amd64 && !purego

#include "textflag.h"

// func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL eaxArg+0(FP), AX
	MOVL ecxArg+4(FP), CX
	CPUID
	MOVL AX, eax+8(FP)
	MOVL BX, ebx+12(FP)
	MOVL CX, ecx+16(FP)
	MOVL DX, edx+20(FP)
	RET

// func xgetbv() (eax, edx uint32)
TEXT ·xgetbv(SB), NOSPLIT, $0-8
	MOVL $0, CX
	XGETBV
	MOVL AX, eax+0(FP)
	MOVL DX, edx+4(FP)
	RET

// func axpyRows32Asm(n int, idx *int32, val *float32, w *float32, ldw int, c *float32)
//
// c[0:32] += Σ_{i<n} val[i] · w[idx[i]·ldw : idx[i]·ldw+32]. Even and odd
// i accumulate in separate registers (Y0-Y3, Y4-Y7) so that eight FMA
// chains are in flight.
TEXT ·axpyRows32Asm(SB), NOSPLIT, $0-48
	MOVQ n+0(FP), CX
	MOVQ idx+8(FP), SI
	MOVQ val+16(FP), BX
	MOVQ w+24(FP), DI
	MOVQ ldw+32(FP), R9
	SHLQ $2, R9
	MOVQ c+40(FP), DX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	CMPQ CX, $2
	JL tail

pair:
	MOVLQSX (SI), AX
	IMULQ R9, AX
	ADDQ DI, AX
	VBROADCASTSS (BX), Y8
	VFMADD231PS (AX), Y8, Y0
	VFMADD231PS 32(AX), Y8, Y1
	VFMADD231PS 64(AX), Y8, Y2
	VFMADD231PS 96(AX), Y8, Y3
	MOVLQSX 4(SI), AX
	IMULQ R9, AX
	ADDQ DI, AX
	VBROADCASTSS 4(BX), Y9
	VFMADD231PS (AX), Y9, Y4
	VFMADD231PS 32(AX), Y9, Y5
	VFMADD231PS 64(AX), Y9, Y6
	VFMADD231PS 96(AX), Y9, Y7
	ADDQ $8, SI
	ADDQ $8, BX
	SUBQ $2, CX
	CMPQ CX, $2
	JGE pair

tail:
	TESTQ CX, CX
	JZ done
	MOVLQSX (SI), AX
	IMULQ R9, AX
	ADDQ DI, AX
	VBROADCASTSS (BX), Y8
	VFMADD231PS (AX), Y8, Y0
	VFMADD231PS 32(AX), Y8, Y1
	VFMADD231PS 64(AX), Y8, Y2
	VFMADD231PS 96(AX), Y8, Y3

done:
	VADDPS Y4, Y0, Y0
	VADDPS Y5, Y1, Y1
	VADDPS Y6, Y2, Y2
	VADDPS Y7, Y3, Y3
	VADDPS (DX), Y0, Y0
	VADDPS 32(DX), Y1, Y1
	VADDPS 64(DX), Y2, Y2
	VADDPS 96(DX), Y3, Y3
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	VMOVUPS Y2, 64(DX)
	VMOVUPS Y3, 96(DX)
	VZEROUPPER
	RET
