/* PVH entry for QEMU -kernel: 32-bit protected mode, paging off; switch to long mode. */
        .section .note.pvh, "a"
        .p2align 2
        .long 4, 4, 18          /* namesz, descsz, XEN_ELFNOTE_PHYS32_ENTRY */
        .asciz "Xen"
        .p2align 2
        .long _start32

        .section .text.boot, "ax"
        .code32
        .globl _start32
_start32:
        cli
        cld
        /* zero .bss (page tables and stack live there) */
        mov $__bss_start, %edi
        mov $__bss_end, %ecx
        sub %edi, %ecx
        xor %eax, %eax
        rep stosb
        mov $__stack_top, %esp
        /* PML4[0] -> PDPT, PDPT[0] -> PD, PD: 512 x 2 MiB identity pages (first 1 GiB) */
        mov $__pdpt, %eax
        or $3, %eax
        mov %eax, __pml4
        mov $__pd, %eax
        or $3, %eax
        mov %eax, __pdpt
        xor %ecx, %ecx
1:      mov %ecx, %eax
        shl $21, %eax
        or $0x83, %eax
        mov %eax, __pd(,%ecx,8)
        inc %ecx
        cmp $512, %ecx
        jne 1b
        mov $__pml4, %eax
        mov %eax, %cr3
        mov %cr4, %eax
        or $0x620, %eax         /* PAE | OSFXSR | OSXMMEXCPT */
        mov %eax, %cr4
        mov $0xC0000080, %ecx   /* EFER.LME */
        rdmsr
        or $0x100, %eax
        wrmsr
        mov %cr0, %eax
        and $~0x4, %eax         /* clear EM */
        or $0x80000003, %eax    /* PG | MP | PE */
        mov %eax, %cr0
        lgdt __gdt_ptr
        ljmp $0x08, $_start64

        .code64
_start64:
        mov $0x10, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %ss
        mov %ax, %fs
        mov %ax, %gs
        mov $__stack_top, %rsp
        call hw_main
2:      hlt
        jmp 2b

        .section .rodata.boot, "a"
        .p2align 3
__gdt:  .quad 0
        .quad 0x00AF9A000000FFFF    /* 64-bit code */
        .quad 0x00CF92000000FFFF    /* data */
__gdt_end:
__gdt_ptr:
        .word __gdt_end - __gdt - 1
        .long __gdt

        .section .bss.boot, "aw", @nobits
        .p2align 12
__pml4: .skip 4096
__pdpt: .skip 4096
__pd:   .skip 4096
        .skip 65536
__stack_top:
