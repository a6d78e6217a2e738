/* Entered by OpenSBI (QEMU virt, default firmware) in S-mode at 0x80200000; a0 = hartid. */
        .section .text.boot, "ax"
        .globl _start
_start:
        .option push
        .option norelax
        la gp, __global_pointer$
        .option pop
        /* only hart 0 runs; others park */
        bnez a0, 3f
        la t0, __bss_start
        la t1, __bss_end
1:      bgeu t0, t1, 2f
        sd zero, 0(t0)
        addi t0, t0, 8
        j 1b
2:      la sp, __stack_top
        call hw_main
3:      wfi
        j 3b

        .section .bss.boot, "aw", @nobits
        .p2align 4
        .skip 65536
__stack_top:
