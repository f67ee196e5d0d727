// Generic building blocks of the BNN accelerator: memories and a bit gearbox.
// Verilog-2001. Memories are written in the styles Yosys and Vivado infer:
// bnn_ram_sdp (one write, one synchronous read port) -> block RAM,
// bnn_ram_tdp (two read/write ports) -> true-dual-port block RAM,
// bnn_lutram (one write, asynchronous read) -> LUT RAM.
// Contents start at zero in simulation (also the FPGA's power-up value).
`default_nettype none
/* verilator lint_off DECLFILENAME */
// A library of small blocks in one file: the file is not named after each module.

// Simple dual-port RAM, synchronous read. OUTREG=1 adds the output register
// (block RAM DOB_REG): read data then appears two cycles after the address.
module bnn_ram_sdp #(
    parameter W = 8,
    parameter AW = 4,
    parameter DEPTH = 16,
    parameter OUTREG = 0
) (
    input wire clk,
    input wire we,
    input wire [AW-1:0] waddr,
    input wire [W-1:0] wdata,
    input wire [AW-1:0] raddr,
    output wire [W-1:0] rdata
);
    reg [W-1:0] mem [0:DEPTH-1];
    reg [W-1:0] q;
`ifndef SYNTHESIS
    // simulation starts from zero like the FPGA's block RAM (synthesis: configuration zeroes it)
    integer i;
    initial begin
        for (i = 0; i < DEPTH; i = i + 1) mem[i] = {W{1'b0}};
        q = {W{1'b0}};
    end
`endif
    always @(posedge clk) begin
        if (we) mem[waddr] <= wdata;
    end
    always @(posedge clk) q <= mem[raddr];
    generate
        if (OUTREG != 0) begin : g_oreg
            reg [W-1:0] q2;
`ifndef SYNTHESIS
            initial q2 = {W{1'b0}};
`endif
            always @(posedge clk) q2 <= q;
            assign rdata = q2;
        end else begin : g_noreg
            assign rdata = q;
        end
    endgenerate
endmodule

// True dual-port RAM, both ports read (synchronously) and write.
// The users of this design never access one address from both ports in a cycle.
module bnn_ram_tdp #(
    parameter W = 8,
    parameter AW = 4,
    parameter DEPTH = 16
) (
    input wire clk,
    input wire we_a,
    input wire [AW-1:0] addr_a,
    input wire [W-1:0] wdata_a,
    output reg [W-1:0] rdata_a,
    input wire we_b,
    input wire [AW-1:0] addr_b,
    input wire [W-1:0] wdata_b,
    output reg [W-1:0] rdata_b
);
    // block RAM even where a build leaves one port unused (the dense baseline's mask port)
    (* ram_style = "block" *) reg [W-1:0] mem [0:DEPTH-1];
`ifndef SYNTHESIS
    integer i;
    initial begin
        for (i = 0; i < DEPTH; i = i + 1) mem[i] = {W{1'b0}};
        rdata_a = {W{1'b0}};
        rdata_b = {W{1'b0}};
    end
`endif
    always @(posedge clk) begin
        if (we_a) mem[addr_a] <= wdata_a;
        rdata_a <= mem[addr_a];
    end
    /* verilator lint_off MULTIDRIVEN */
    // Two processes write one array: the true-dual-port block RAM template.
    always @(posedge clk) begin
        if (we_b) mem[addr_b] <= wdata_b;
        rdata_b <= mem[addr_b];
    end
    /* verilator lint_on MULTIDRIVEN */
endmodule

// LUT RAM: one synchronous write port, asynchronous read.
module bnn_lutram #(
    parameter W = 8,
    parameter AW = 4,
    parameter DEPTH = 16
) (
    input wire clk,
    input wire we,
    input wire [AW-1:0] waddr,
    input wire [W-1:0] wdata,
    input wire [AW-1:0] raddr,
    output wire [W-1:0] rdata
);
    reg [W-1:0] mem [0:DEPTH-1];
`ifndef SYNTHESIS
    integer i;
    initial for (i = 0; i < DEPTH; i = i + 1) mem[i] = {W{1'b0}};
`endif
    always @(posedge clk) begin
        if (we) mem[waddr] <= wdata;
    end
    assign rdata = mem[raddr];
endmodule

// LUT RAM with two asynchronous read ports (a read-modify-write port and a reader).
module bnn_lutram2 #(
    parameter W = 8,
    parameter AW = 4,
    parameter DEPTH = 16
) (
    input wire clk,
    input wire we,
    input wire [AW-1:0] waddr,
    input wire [W-1:0] wdata,
    input wire [AW-1:0] raddr_a,
    output wire [W-1:0] rdata_a,
    input wire [AW-1:0] raddr_b,
    output wire [W-1:0] rdata_b
);
    reg [W-1:0] mem [0:DEPTH-1];
`ifndef SYNTHESIS
    integer i;
    initial for (i = 0; i < DEPTH; i = i + 1) mem[i] = {W{1'b0}};
`endif
    always @(posedge clk) begin
        if (we) mem[waddr] <= wdata;
    end
    assign rdata_a = mem[raddr_a];
    assign rdata_b = mem[raddr_b];
endmodule

// Distributed (LUT) RAM with one write port and two read ports, both registered: the block
// RAM's one-cycle read latency where a block RAM would need a third port (the input activation
// set: the LOAD writes while the gather and the mask unit read). Kept out of block RAM on purpose.
module bnn_lutram2_reg #(
    parameter W = 8,
    parameter AW = 4,
    parameter DEPTH = 16
) (
    input wire clk,
    input wire we,
    input wire [AW-1:0] waddr,
    input wire [W-1:0] wdata,
    input wire [AW-1:0] raddr_a,
    output reg [W-1:0] rdata_a,
    input wire [AW-1:0] raddr_b,
    output reg [W-1:0] rdata_b
);
    (* ram_style = "distributed" *) reg [W-1:0] mem [0:DEPTH-1];
`ifndef SYNTHESIS
    integer i;
    initial begin
        for (i = 0; i < DEPTH; i = i + 1) mem[i] = {W{1'b0}};
        rdata_a = {W{1'b0}};
        rdata_b = {W{1'b0}};
    end
`endif
    always @(posedge clk) begin
        if (we) mem[waddr] <= wdata;
        rdata_a <= mem[raddr_a];
        rdata_b <= mem[raddr_b];
    end
endmodule

// Distributed (LUT) RAM with one write port and one registered read port: bnn_lutram2_reg's
// one-cycle read latency where one reader suffices (LUT RAM replicates every read port).
module bnn_lutram_reg #(
    parameter W = 8,
    parameter AW = 4,
    parameter DEPTH = 16
) (
    input wire clk,
    input wire we,
    input wire [AW-1:0] waddr,
    input wire [W-1:0] wdata,
    input wire [AW-1:0] raddr,
    output reg [W-1:0] rdata
);
    (* ram_style = "distributed" *) reg [W-1:0] mem [0:DEPTH-1];
`ifndef SYNTHESIS
    integer i;
    initial begin
        for (i = 0; i < DEPTH; i = i + 1) mem[i] = {W{1'b0}};
        rdata = {W{1'b0}};
    end
`endif
    always @(posedge clk) begin
        if (we) mem[waddr] <= wdata;
        rdata <= mem[raddr];
    end
endmodule

// Simple dual-port block RAM of LANES x W-bit words, written one W-bit lane at a time (the
// lane enables map to the block RAM's byte-write enables, so LANES lanes share one RAM
// instead of one RAM each), read a whole word at a time; synchronous read like bnn_ram_sdp.
module bnn_ram_sdp_lanes #(
    parameter W = 16,
    parameter LANES = 4,
    parameter LW = 2,  // bits of a lane index
    parameter AW = 8,
    parameter DEPTH = 256
) (
    input wire clk,
    input wire we,
    input wire [LW-1:0] wlane,
    input wire [AW-1:0] waddr,
    input wire [W-1:0] wdata,
    input wire [AW-1:0] raddr,
    output reg [LANES*W-1:0] rdata
);
    (* ram_style = "block" *) reg [LANES*W-1:0] mem [0:DEPTH-1];
    integer l;
`ifndef SYNTHESIS
    integer i;
    initial begin
        for (i = 0; i < DEPTH; i = i + 1) mem[i] = {LANES * W{1'b0}};
        rdata = {LANES * W{1'b0}};
    end
`endif
    always @(posedge clk) begin
        for (l = 0; l < LANES; l = l + 1)
            if (we && (wlane == l[LW-1:0])) mem[waddr][l * W +: W] <= wdata;
        rdata <= mem[raddr];
    end
endmodule

// Bit gearbox: packs a stream of IN_W-bit beats into OUT_W-bit entries, each entry
// taking the next CB bits of the stream (CB_A or CB_B, chosen per entry by sel_b;
// CB >= IN_W, so at most one entry completes per beat). Fill levels are multiples
// of GRAN bits, which keeps the insertion shifter a small multiplexer.
// Combinational output: an entry is emitted in the cycle of the beat that completes
// it. `flush` emits the partial entry held (the end of a weight section).
module bnn_gearbox #(
    parameter IN_W = 32,
    parameter OUT_W = 64,
    parameter GRAN = 32,
    parameter CB_A = 64,
    parameter CB_B = 64,
    parameter FW = 4
) (
    input wire clk,
    input wire rst,
    input wire in_valid,
    input wire in_first,  // first beat of a section: discard what is held
    input wire [IN_W-1:0] in_data,
    input wire sel_b,
    input wire flush,
    output wire out_valid,
    output wire [OUT_W-1:0] out_data
);
    localparam integer CBA = CB_A / GRAN;
    localparam integer CBB = CB_B / GRAN;
    localparam integer INC = IN_W / GRAN;
    // An entry of a whole number of beats (both chunk sizes the entry width) needs no
    // shifter: its beats are collected in a shift register.
    localparam COLLECT = (CB_A == OUT_W) && (CB_B == OUT_W) && (OUT_W % IN_W == 0);
    reg [FW-1:0] fill;
    wire [FW-1:0] f0 = in_first ? {FW{1'b0}} : fill;
    wire [FW-1:0] cb = sel_b ? CBB[FW-1:0] : CBA[FW-1:0];
    wire [FW-1:0] nf = f0 + INC[FW-1:0];
    wire emit = in_valid && (nf >= cb);
    assign out_valid = emit || flush;
    generate
        if (COLLECT) begin : g_collect
            reg [OUT_W-1:0] sr;
            wire [OUT_W-1:0] sr_in;
            if (OUT_W == IN_W) begin : g_one
                assign sr_in = in_data;
            end else begin : g_many
                assign sr_in = {in_data, sr[OUT_W-1:IN_W]};
            end
            assign out_data = flush ? sr : sr_in;
            always @(posedge clk) begin
                if (rst || flush) begin
                    sr <= {OUT_W{1'b0}};
                    fill <= {FW{1'b0}};
                end else if (in_valid) begin
                    sr <= sr_in;
                    fill <= emit ? {FW{1'b0}} : nf;
                end
            end
        end else begin : g_shift
            localparam BW = OUT_W + IN_W;
            localparam NPOS = OUT_W / GRAN;  // possible fill levels: 0 .. NPOS-1 (x GRAN bits)
            reg [BW-1:0] held;
            wire [BW-1:0] base = in_first ? {BW{1'b0}} : held;
            wire [BW-1:0] ext = {{OUT_W{1'b0}}, in_data};
            reg [BW-1:0] merged;
            integer i;
            always @* begin
                merged = base;
                for (i = 0; i < NPOS; i = i + 1)
                    if (f0 == i[FW-1:0]) merged = merged | (ext << (i * GRAN));
            end
            wire [BW-1:0] rest = sel_b ? (merged >> CB_B) : (merged >> CB_A);
            assign out_data = flush ? held[OUT_W-1:0] : merged[OUT_W-1:0];
            always @(posedge clk) begin
                if (rst || flush) begin
                    held <= {BW{1'b0}};
                    fill <= {FW{1'b0}};
                end else if (in_valid) begin
                    if (emit) begin
                        held <= rest;
                        fill <= nf - cb;
                    end else begin
                        held <= merged;
                        fill <= nf;
                    end
                end
            end
        end
    endgenerate
endmodule

// One bit of a W-bit word, chosen by `sel`. With BNN_MUXF (Xilinx primitives; rtl.resources and
// rtl/vivado/build.tcl define it) a word of W = 2^SW >= 16 bits is read in 16:1 groups, each four LUT6
// 4:1 multiplexers joined by the slice's MUXF7s and MUXF8, then a W/16 : 1 multiplexer of the groups:
// 17 LUTs for 64:1. Yosys 0.23 maps a behavioural wide multiplexer to LUTs alone (the window buffers'
// 64:1 selects took about twice as many LUTs); Vivado uses the hard multiplexers by itself. Same function.
module bnn_bitsel #(
    parameter W = 64,  // bits of the word
    parameter SW = 6  // bits of the select: W <= 2^SW
) (
    input wire [W-1:0] v,
    input wire [SW-1:0] sel,
    output wire o
);
`ifdef BNN_MUXF
    localparam integer HARD = (W == (1 << SW)) && (SW >= 4);
`else
    localparam integer HARD = 0;
`endif
    genvar g;
    generate
        if (HARD != 0) begin : g_hard
            localparam integer NG = W / 16;
            wire [NG-1:0] grp;
            for (g = 0; g < NG; g = g + 1) begin : g_grp
                wire [15:0] gv = v[g * 16 +: 16];
                wire [3:0] q = {gv[12 + sel[1:0]], gv[8 + sel[1:0]], gv[4 + sel[1:0]], gv[sel[1:0]]};
                wire f7lo, f7hi;
                MUXF7 u_f7lo (.O(f7lo), .I0(q[0]), .I1(q[1]), .S(sel[2]));
                MUXF7 u_f7hi (.O(f7hi), .I0(q[2]), .I1(q[3]), .S(sel[2]));
                MUXF8 u_f8 (.O(grp[g]), .I0(f7lo), .I1(f7hi), .S(sel[3]));
            end
            if (NG == 1) begin : g_one
                assign o = grp[0];
            end else begin : g_many
                assign o = grp[sel[SW-1:4]];
            end
        end else begin : g_soft
            assign o = v[sel];
        end
    endgenerate
endmodule

// Rotate nine items from bank order (bank = (y mod 3) * 3 + x mod 3) into tap order
// (tap = ky * 3 + kx) for a window centred on a position with y mod 3 = ym, x mod 3 = xm:
// tap row ky reads bank row (ym + ky - 1) mod 3, likewise for columns.
module bnn_rot9 #(
    parameter X = 1
) (
    input wire [9*X-1:0] bank,
    input wire [1:0] ym,
    input wire [1:0] xm,
    output reg [9*X-1:0] tap
);
    // Each output picks one of three inputs; every index below is a constant after
    // unrolling, so this is a 3:1 multiplexer per bit, twice.
    reg [9*X-1:0] rows;  // rows rotated, columns still in bank order
    integer ty, tx, bx, by;
    always @* begin
        for (ty = 0; ty < 3; ty = ty + 1)
            for (bx = 0; bx < 3; bx = bx + 1)
                case (ym)
                    2'd0: rows[(ty * 3 + bx) * X +: X] = bank[(((ty + 2) % 3) * 3 + bx) * X +: X];
                    2'd1: rows[(ty * 3 + bx) * X +: X] = bank[(((ty + 3) % 3) * 3 + bx) * X +: X];
                    default: rows[(ty * 3 + bx) * X +: X] = bank[(((ty + 4) % 3) * 3 + bx) * X +: X];
                endcase
        for (tx = 0; tx < 3; tx = tx + 1)
            for (by = 0; by < 3; by = by + 1)
                case (xm)
                    2'd0: tap[(by * 3 + tx) * X +: X] = rows[(by * 3 + (tx + 2) % 3) * X +: X];
                    2'd1: tap[(by * 3 + tx) * X +: X] = rows[(by * 3 + (tx + 3) % 3) * X +: X];
                    default: tap[(by * 3 + tx) * X +: X] = rows[(by * 3 + (tx + 4) % 3) * X +: X];
                endcase
    end
endmodule

// Bank addresses and padding mask of the 3x3 window centred on input position
// (yc, xc). ibase addresses the centre's bank row/column: (yc div 3) * w3n + (xc div 3) * nblk.
// A tap above/left of the centre lies in the previous bank row/column when the centre
// is in bank row/column 0, a tap below/right in the next one when it is in 2.
// A 1x1 layer (k3 = 0) uses the centre tap only.
module bnn_win_addr #(
    parameter AAW = 8,
    parameter CW = 8,
    parameter NCW = 4
) (
    input wire [CW-1:0] yc,
    input wire [CW-1:0] xc,
    input wire [1:0] ym,
    input wire [1:0] xm,
    input wire [AAW-1:0] ibase,
    input wire [NCW-1:0] blk,
    input wire [CW-1:0] h_in,
    input wire [CW-1:0] w_in,
    input wire [AAW-1:0] w3n,
    input wire [NCW-1:0] nblk,
    input wire k3,
    output reg [9*AAW-1:0] addr,  // bank order
    output reg [8:0] valid  // tap order
);
    reg [3*AAW-1:0] roff;
    reg [3*AAW-1:0] coff;
    reg [AAW-1:0] nb;
    reg up, dn, lf, rt;
    integer b;
    always @* begin
        nb = {{(AAW - NCW) {1'b0}}, nblk};
        for (b = 0; b < 3; b = b + 1) begin
            roff[b * AAW +: AAW] = (ym == 2'd0 && b == 2) ? (~w3n + 1'b1) : (ym == 2'd2 && b == 0) ? w3n : {AAW{1'b0}};
            coff[b * AAW +: AAW] = (xm == 2'd0 && b == 2) ? (~nb + 1'b1) : (xm == 2'd2 && b == 0) ? nb : {AAW{1'b0}};
        end
        for (b = 0; b < 9; b = b + 1)
            addr[b * AAW +: AAW] = ibase + roff[(b / 3) * AAW +: AAW] + coff[(b % 3) * AAW +: AAW] + {{(AAW - NCW) {1'b0}}, blk};
        up = (yc != {CW{1'b0}});
        dn = (yc + 1'b1 < h_in);
        lf = (xc != {CW{1'b0}});
        rt = (xc + 1'b1 < w_in);
        if (k3)
            valid = {dn & rt, dn, dn & lf, rt, 1'b1, lf, up & rt, up, up & lf};
        else
            valid = 9'b000010000;
    end
endmodule

// Raster position generator: walks the output positions of a layer (or a map) and
// keeps, incrementally, every address the units need, so no unit multiplies or divides:
// the input window centre (s*yo, s*xo) with its mod-3 bank coordinates and bank base
// address, the residual-buffer word of the position, and its output bank and address.
// `adv` moves to the next position; after the last one it wraps to position 0.
module bnn_pos_gen #(
    parameter CW = 8,
    parameter AAW = 8,
    parameter RAW = 10,
    parameter NCW = 4
) (
    input wire clk,
    input wire init,
    input wire adv,
    input wire s2,
    input wire [CW-1:0] h_out,
    input wire [CW-1:0] w_out,
    input wire [NCW-1:0] nblk_in,
    input wire [AAW-1:0] w3n_in,
    input wire [NCW-1:0] nblk_out,
    input wire [AAW-1:0] w3n_out,
    input wire [RAW-1:0] nwo,
    output reg [CW-1:0] yc,
    output reg [CW-1:0] xc,
    output reg [1:0] ycm,
    output reg [1:0] xcm,
    output wire [AAW-1:0] ibase,
    output reg [RAW-1:0] rbase,
    output wire [3:0] obank,
    output wire [AAW-1:0] obase
);
    reg [CW-1:0] yo, xo;
    reg [1:0] yom, xom;
    reg [AAW-1:0] irow, icol, orow, ocol;
    wire [2:0] ycs = {1'b0, ycm} + (s2 ? 3'd2 : 3'd1);
    wire [2:0] xcs = {1'b0, xcm} + (s2 ? 3'd2 : 3'd1);
    wire [CW-1:0] step = s2 ? 2 : 1;
    wire row_end = (xo == w_out - 1'b1);
    wire map_end = row_end && (yo == h_out - 1'b1);
    assign ibase = irow + icol;
    assign obase = orow + ocol;
    assign obank = {2'b00, yom} * 4'd3 + {2'b00, xom};
`ifndef SYNTHESIS
    initial begin
        yo = 0; xo = 0; yom = 0; xom = 0; yc = 0; xc = 0; ycm = 0; xcm = 0;
        irow = 0; icol = 0; orow = 0; ocol = 0; rbase = 0;
    end
`endif
    always @(posedge clk) begin
        if (init || (adv && map_end)) begin
            yo <= 0; xo <= 0; yom <= 0; xom <= 0; yc <= 0; xc <= 0; ycm <= 0; xcm <= 0;
            irow <= 0; icol <= 0; orow <= 0; ocol <= 0; rbase <= 0;
        end else if (adv) begin
            rbase <= rbase + nwo;
            if (row_end) begin
                xo <= 0; xom <= 0; xc <= 0; xcm <= 0; icol <= 0; ocol <= 0;
                yo <= yo + 1'b1;
                yc <= yc + step;
                if (yom == 2'd2) begin
                    yom <= 2'd0;
                    orow <= orow + w3n_out;
                end else yom <= yom + 1'b1;
                if (ycs >= 3'd3) begin
                    ycm <= ycs[1:0] - 2'd3;
                    irow <= irow + w3n_in;
                end else ycm <= ycs[1:0];
            end else begin
                xo <= xo + 1'b1;
                xc <= xc + step;
                if (xom == 2'd2) begin
                    xom <= 2'd0;
                    ocol <= ocol + {{(AAW - NCW) {1'b0}}, nblk_out};
                end else xom <= xom + 1'b1;
                if (xcs >= 3'd3) begin
                    xcm <= xcs[1:0] - 2'd3;
                    icol <= icol + {{(AAW - NCW) {1'b0}}, nblk_in};
                end else xcm <= xcs[1:0];
            end
        end
    end
endmodule

// Population count of N bits: 6-bit groups counted by lookup (one LUT6 per result
// bit), then the group counts added. Keeps popcounts out of long carry chains.
module bnn_popcount #(
    parameter N = 64,
    parameter OW = 7
) (
    input wire [N-1:0] v,
    output reg [OW-1:0] cnt
);
    localparam NG = (N + 5) / 6;
    reg [6*NG-1:0] vp;
    reg [2:0] gc;
    reg [5:0] b;
    reg s1, s2, c1, c2, t;
    integer g;
    always @* begin
        vp = {(6 * NG){1'b0}};
        vp[N-1:0] = v;
        cnt = {OW{1'b0}};
        // 6:3 counter from full adders (pure logic, so it maps to LUTs, not carry chains)
        for (g = 0; g < NG; g = g + 1) begin
            b = vp[g * 6 +: 6];
            s1 = b[0] ^ b[1] ^ b[2];
            c1 = (b[0] & b[1]) | (b[0] & b[2]) | (b[1] & b[2]);
            s2 = b[3] ^ b[4] ^ b[5];
            c2 = (b[3] & b[4]) | (b[3] & b[5]) | (b[4] & b[5]);
            t = s1 & s2;
            gc = {(c1 & c2) | (c1 & t) | (c2 & t), c1 ^ c2 ^ t, s1 ^ s2};
            cnt = cnt + {{(OW - 3) {1'b0}}, gc};
        end
    end
endmodule

// Population count of 9 bits as a full-adder tree in plain logic (no adder cells), so
// synthesis can merge it with the XNOR and masking in front of it: the PE's counter.
module bnn_pc9 (
    input wire [8:0] v,
    output wire [3:0] cnt
);
    wire s0 = v[0] ^ v[1] ^ v[2];
    wire c0 = (v[0] & v[1]) | (v[0] & v[2]) | (v[1] & v[2]);
    wire s1 = v[3] ^ v[4] ^ v[5];
    wire c1 = (v[3] & v[4]) | (v[3] & v[5]) | (v[4] & v[5]);
    wire s2 = v[6] ^ v[7] ^ v[8];
    wire c2 = (v[6] & v[7]) | (v[6] & v[8]) | (v[7] & v[8]);
    wire b0 = s0 ^ s1 ^ s2;  // weight 1
    wire c3 = (s0 & s1) | (s0 & s2) | (s1 & s2);  // weight 2
    wire s4 = c0 ^ c1 ^ c2;  // weight 2
    wire c4 = (c0 & c1) | (c0 & c2) | (c1 & c2);  // weight 4
    wire b1 = s4 ^ c3;
    wire c5 = s4 & c3;  // weight 4
    assign cnt = {c4 & c5, c4 ^ c5, b1, b0};
endmodule

// p = a * b + c, registered like a DSP48E2 used as a multiply-add: the product and c are
// registered (MREG, CREG), their sum a cycle later (PREG); a and b are taken in the same cycle
// as c. Cycle by cycle:  m(t+1) = a(t) b(t),  c'(t+1) = c(t),  p(t+2) = m(t+1) + c'(t+1).
// With BNN_DSP48E2 defined (the resource estimate and the Vivado build define it) and operands
// that fit the slice (a <= 27, b <= 18, c <= 48 bits, a + b <= 47, p <= 48), this is one DSP48E2
// primitive, whose post-adder takes the sum (Yosys 0.23 does not pack a post-adder into a
// DSP48E2 by itself: the adder then costs LUTs). Otherwise, and in simulation, the behaviour
// below, which the primitive's configuration (OPMODE W=0, Z=C, Y=X=M; ALUMODE 0) reproduces.
module bnn_dsp_madd #(
    parameter AW = 16,  // a: signed
    parameter BW = 16,  // b: signed
    parameter CW = 32,  // c: signed
    parameter PW = 33   // p: signed, wider than a b and than c (PW > AW + BW, PW > CW)
) (
    input wire clk,
    input wire [AW-1:0] a,
    input wire [BW-1:0] b,
    input wire [CW-1:0] c,
    output wire [PW-1:0] p
);
`ifdef BNN_DSP48E2
    localparam USE_DSP = (AW <= 27) && (BW <= 18) && (CW <= 48) && (AW + BW <= 47) && (PW <= 48);
`else
    localparam USE_DSP = 0;
`endif
    generate
`ifdef BNN_DSP48E2
        if (USE_DSP) begin : g_dsp
            wire [47:0] pout;
            /* verilator lint_off PINCONNECTEMPTY */
            DSP48E2 #(
                .AMULTSEL("A"), .BMULTSEL("B"), .PREADDINSEL("A"), .USE_MULT("MULTIPLY"), .USE_SIMD("ONE48"),
                .A_INPUT("DIRECT"), .B_INPUT("DIRECT"),
                .AREG(0), .ACASCREG(0), .BREG(0), .BCASCREG(0), .DREG(0), .ADREG(0), .INMODEREG(0),
                .MREG(1), .CREG(1), .PREG(1),
                .OPMODEREG(0), .ALUMODEREG(0), .CARRYINREG(0), .CARRYINSELREG(0),
                .USE_PATTERN_DETECT("NO_PATDET")
            ) u_dsp (
                .CLK(clk),
                .A({{(30 - AW) {a[AW-1]}}, a}), .B({{(18 - BW) {b[BW-1]}}, b}), .C({{(48 - CW) {c[CW-1]}}, c}),
                .D(27'd0), .ACIN(30'd0), .BCIN(18'd0), .PCIN(48'd0), .CARRYCASCIN(1'b0), .MULTSIGNIN(1'b0),
                .OPMODE(9'b00_011_01_01), .ALUMODE(4'b0000), .INMODE(5'b00000),
                .CARRYIN(1'b0), .CARRYINSEL(3'b000),
                .CEA1(1'b0), .CEA2(1'b0), .CEB1(1'b0), .CEB2(1'b0), .CED(1'b0), .CEAD(1'b0),
                .CEM(1'b1), .CEC(1'b1), .CEP(1'b1),
                .CECTRL(1'b1), .CEALUMODE(1'b1), .CEINMODE(1'b1), .CECARRYIN(1'b1),
                .RSTA(1'b0), .RSTB(1'b0), .RSTC(1'b0), .RSTD(1'b0), .RSTM(1'b0), .RSTP(1'b0),
                .RSTCTRL(1'b0), .RSTALUMODE(1'b0), .RSTINMODE(1'b0), .RSTALLCARRYIN(1'b0),
                .P(pout), .PCOUT(), .ACOUT(), .BCOUT(), .CARRYCASCOUT(), .CARRYOUT(), .MULTSIGNOUT(),
                .OVERFLOW(), .UNDERFLOW(), .PATTERNDETECT(), .PATTERNBDETECT(), .XOROUT()
            );
            /* verilator lint_on PINCONNECTEMPTY */
            assign p = pout[PW-1:0];
        end
`endif
        if (!USE_DSP) begin : g_fabric
            reg signed [AW+BW-1:0] m;
            reg signed [CW-1:0] cr;
            reg signed [PW-1:0] pr;
            always @(posedge clk) begin
                m <= $signed(a) * $signed(b);
                cr <= $signed(c);
                pr <= $signed({{(PW - AW - BW) {m[AW+BW-1]}}, m}) + $signed({{(PW - CW) {cr[CW-1]}}, cr});
            end
            assign p = pr;
        end
    endgenerate
endmodule

`default_nettype wire
