`default_nettype none
/* verilator lint_off DECLFILENAME */
// The unit and its line buffer and DSP48E2 slices in one file: the file is not named after each module.

// bnn_stem: the real-valued stem conv on chip (3x3, one image channel, CH output channels), a block that
// delivers the stem output x0 in the LOAD's order at one beat per cycle. The core instantiates it in the read
// DMA when the configuration enables the stem unit (bnn_core parameter STEM, docs/timing.md 3.1): the LOAD's
// registered R beats are its image, its x0 beats go through their own register into the LOAD path.
// Reference: archsim.functional.stem_output; fixed point, packer and cycle formula: archsim/stem_unit.py.
//
//   acc = sum_{dy,dx} w[c][dy][dx] * (pix[y+dy-1][x+dx-1] - off)        (0 outside the image)
//   x0  = sat_VB((acc * M[c] + B[c]) >>> S)      (M, B: stem_unit.normalise of the model's mult, bias, shift)
//
// Parameters
//   CH     output channels, a multiple of LANES
//   LANES  values per x0 beat (16 on the Ultra96v2); Q = CH / LANES beats per position, Q >= 3
//   VB     value bits of x0 (16)
//   D      bits of a parameter and an image beat (256), a multiple of 8, >= 48
//   H, W   the largest image height and width (pixels); the image's own size comes on img_h, img_w
//   S      the fixed shift, 17 <= S and S - 17 + VB <= 48
// Anything else stops elaboration (module bnn_stem_illegal_parameters does not exist).
//
// Ports
//   clk, rst        clock; synchronous reset of the control (the parameters survive it)
//   off[7:0]        input offset, subtracted from every pixel; stable from the last image beat to done
//   img_h, img_w    the image's height h and width w, 1 <= h <= H, 1 <= w <= W; stable from the first
//                   image beat to done
//   prm_valid       a parameter beat on prm_data[D-1:0]; stem_unit.pack_params gives the beats, in order
//                   (3 ceil(3 CH / (D/8)) + 2 ceil(CH / (D/18)) + ceil(CH / (D/48)) beats: 41 on the
//                   Ultra96v2), sent before an image, at any pace, while no image is in flight
//   img_valid, img_data[D-1:0], img_last
//                   the raw image, one byte per pixel in raster order, byte i of beat j = pixel j (D/8) + i;
//                   exactly ceil(h w / (D/8)) beats, the last with img_last; one beat per cycle is taken
//                   (no ready). Beats must not arrive from an image's last beat to its done.
//   x0_valid, x0_data[LANES*VB-1:0]
//                   x0 in the LOAD's order (docs/formats.md 4): positions in raster order, per position the
//                   Q beats of channel groups g = 0..Q-1, lane r of beat g = channel g LANES + r;
//                   h w Q beats, one per cycle without gaps
//   done            one cycle, the cycle after the last x0 beat
//
// Cycle formula (stem_unit.first_beat_latency): with the last image beat in cycle t, the first x0 beat is in
// cycle t + lambda_S, lambda_S = A + w + Q + 16, A = ceil(H W / (D/8)) - ceil(h w / (D/8)) (0 for an image of
// the largest size), then one beat per cycle; done at t + lambda_S + h w Q.
//
// Micro-architecture (LUTs are the scarce resource, DSP48E2 slices and flip-flops are not):
//  * Image: a FIFO of ceil(H W / (D/8)) beat registers (flip-flops, shifted by each beat, then A more times);
//    its head is then beat 0. A byte select on the head (the only wide multiplexer) reads the pixels in raster
//    order at one per column step, into two line buffers of w pixels (shift registers with a variable tap:
//    SRLC32E, 16 LUTs).
//  * Column steps: w + 1 steps, one per cycle, fill the line buffers; then one step per Q cycles. In the Q
//    cycles of step s the column register R gives pixels p - w, p, p + w (p = s + 1, raster index), minus off,
//    0 outside the image (rows -1 and h), one per cycle (phases k = 0, 1, 2), then 0.
//  * MAC, per channel a chain of three DSP48E2 (bnn_dsp_mac), slice dx = kernel column. Its three weights
//    (kernel rows 0, 1, 2) sit in the slice's D, A1 and A2 registers, chosen per cycle by INMODE; the pixel
//    enters on B. Slice dx takes position s's phases in cycles Q s + k + dx + g (group g = c div LANES) and
//    adds slice dx-1's finished sum through PCIN in its phase 2. Slice 2 reads the column register of step s,
//    slice 1 of step s-1, slice 0 of step s-2: one pixel stream, delayed 2 + g, Q + 1 + g and 2 Q + g
//    cycles (flip-flops). The left and right zero padding is the INMODE that zeroes the product (slice 0 at
//    x = 0, slice 2 at x = w-1). The chain's sum is final for Q - 1 cycles from cycle Q s + g + 7.
//  * Affine, one DSP48E2 per channel (bnn_dsp_aff), its parameters in the slice: B1 = M_lo (17 bits), B2 = M_hi,
//    C = B. P1 = acc M_lo + B, then P2 = acc M_hi + (P1 >>> 17) = (acc M + B) >>> 17 exactly; P2 holds for
//    Q - 1 cycles. x0 = P2[S-17+VB-1 : S-17], saturated when the slice's pattern detector (bits 47 down to
//    S-17+VB-1 all equal) says it overflows: fixed wiring, no shifter. One DSP48E2 per channel keeps M and B
//    out of fabric (a per-lane affine would need them multiplexed per cycle: 83 bits x Q per lane).
//  * Output: per lane a Q:1 multiplexer over the channel's affine slices, then two registers whose synchronous
//    set and reset saturate (positive overflow in the first, negative in the second): no LUT per bit for it.
//  * Parameters: one shift chain of D-bit flip-flop stages moved by prm_valid, which is also the clock enable
//    of every parameter register in the slices (A1 -> A2, D, B1 -> B2, C); no address decoder. Stage j holds
//    beat L-1-j after the last beat; which slice taps which stage and field: stem_unit.Layout.
//  * The FIFO, delay lines and parameter chain have synchronous resets only so that synthesis keeps them in
//    flip-flops (shift-register LUTs would cost LUTs, the scarce resource).
//  Resources: bnn_stem alone at CH 64, LANES 16, D 256, 32 x 32, S 34, Yosys 0.23 synth_xilinx -family xcup
//  -flatten -abc9 with BNN_DSP48E2: 564 LUTs (548 logic, 16 SRLC32E, no LUT RAM), 18,909 FFs, 0 BRAM, 256
//  DSP48E2 (rtl/README.md, "Stem unit").
module bnn_stem #(
    parameter CH = 64,
    parameter LANES = 16,
    parameter VB = 16,
    parameter D = 256,
    parameter H = 32,
    parameter W = 32,
    parameter S = 34
) (
    input wire clk,
    input wire rst,
    input wire [7:0] off,
    input wire [$clog2(H+2)-1:0] img_h,
    input wire [$clog2(W+2)-1:0] img_w,
    input wire prm_valid,
    input wire [D-1:0] prm_data,
    input wire img_valid,
    input wire [D-1:0] img_data,
    input wire img_last,
    output reg x0_valid,
    output reg [LANES*VB-1:0] x0_data,
    output reg done
);
    localparam Q = CH / LANES;
    localparam BPB = D / 8;
    localparam NPIX = H * W;
    localparam NB = (NPIX + BPB - 1) / BPB;
    localparam AB = 20;  // accumulator bits: |acc| <= 9 * 128 * 255
    localparam K = S - 17;  // x0 = P2 >>> K
    // parameter chain (stem_unit.Layout)
    localparam WF = D / 8, MF = D / 18, BF = D / 48;
    localparam WROWS = (3 * CH + WF - 1) / WF;
    localparam MROWS = (CH + MF - 1) / MF;
    localparam BROWS = (CH + BF - 1) / BF;
    localparam MBASE = 3 * WROWS, BBASE = MBASE + 2 * MROWS, L = BBASE + BROWS;
    localparam NCW = Q + 10;  // control delay line
    localparam NPD = 3 * Q;  // pixel delay line
    localparam XW = $clog2(W + 1), YW = $clog2(H + 2), LW = $clog2(BPB + 1), NBW = $clog2(NB + 1);
    localparam CW = $clog2(W + 2);

    generate
        if (CH % LANES != 0 || Q < 3 || D % 8 != 0 || D < 48 || S < 17 || S - 17 + VB > 48 || H < 1 || W < 1
            || VB < 2) begin : g_illegal
            bnn_stem_illegal_parameters u_stop ();
        end
    endgenerate

    // ------------------------------------------------------------------ parameter chain
    reg [D-1:0] pst[1:L-1];
    wire [D-1:0] stage[0:L-1];
    assign stage[0] = prm_data;
    genvar j;
    generate
        for (j = 1; j < L; j = j + 1) begin : g_pst
            assign stage[j] = pst[j];
            // the reset only keeps synthesis from turning the chain into shift-register LUTs
            always @(posedge clk)
                if (rst) pst[j] <= {D{1'b0}};
                else if (prm_valid) pst[j] <= stage[j-1];
        end
    endgenerate

    // ------------------------------------------------------------------ image FIFO, column steps
    reg [D-1:0] fifo[0:NB-1];
    localparam [1:0] IDLE = 2'd0, PRIME = 2'd1, RUN = 2'd2, ALIGN = 2'd3;
    reg [1:0] state;
    reg [NBW-1:0] nbr;  // beats in the FIFO
    reg [CW-1:0] pcnt;  // priming steps
    reg [LW-1:0] lane;  // byte of the FIFO head
    reg [$clog2(Q)-1:0] k;  // phase within a column step
    reg [XW-1:0] xc;  // column of the step's pointer p = s + 1
    reg [YW-1:0] yc;  // row of p
    /* verilator lint_off WIDTHTRUNC */
    localparam [$clog2(Q)-1:0] KL = Q - 1;
    localparam [LW-1:0] BL = BPB - 1;
    localparam [NBW-1:0] NB1 = NB - 1;
    /* verilator lint_on WIDTHTRUNC */
    wire step = state == PRIME || (state == RUN && k == KL);
    wire fifo_sh = (state == IDLE && img_valid) || state == ALIGN || (step && lane == BL);
    wire [XW-1:0] wl = img_w[XW-1:0] - 1'b1;
    localparam IW = W > 1 ? $clog2(W) : 1;
    wire [IW-1:0] wi = wl[IW-1:0];  // the line buffers' tap
    wire [7:0] lb1o, lb2o;
    wire pend;  // the last position's step: p = img_h img_w
    wire [YW-1:0] h1 = img_h - 1'b1;
    wire [7:0] head = fifo[NB-1][lane*8+:8];
    reg [7:0] src;
    // line buffers: img_w pixels each (a variable tap: SRLC32E with BNN_DSP48E2, as Vivado infers them)
    bnn_stem_lbuf #(.N(W), .AW(IW)) u_lb1 (.clk(clk), .ce(step), .d(src), .a(wi), .q(lb1o));
    bnn_stem_lbuf #(.N(W), .AW(IW)) u_lb2 (.clk(clk), .ce(step), .d(lb1o), .a(wi), .q(lb2o));
    integer i;
    always @(posedge clk) begin
        // resets here and below: flip-flops, not shift-register LUTs (LUTs are the scarce resource)
        if (rst) begin
            for (i = 0; i < NB; i = i + 1) fifo[i] <= {D{1'b0}};
        end else if (fifo_sh) begin
            fifo[0] <= img_data;
            for (i = 1; i < NB; i = i + 1) fifo[i] <= fifo[i-1];
        end
        if (rst) src <= 8'd0;
        else if (step) src <= head;
    end
    always @(posedge clk) begin
        if (rst) begin
            state <= IDLE;
            lane <= 0;
            nbr <= 0;
        end else begin
            if (step) lane <= lane == BL ? {LW{1'b0}} : lane + 1'b1;
            case (state)
                IDLE: begin
                    lane <= 0;
                    pcnt <= 0;
                    if (img_valid) nbr <= nbr + 1'b1;
                    if (img_valid && img_last) state <= nbr == NB1 ? PRIME : ALIGN;
                end
                ALIGN: begin  // beat 0 to the FIFO's head: NB - (beats of the image) more shifts
                    nbr <= nbr + 1'b1;
                    if (nbr == NB1) state <= PRIME;
                end
                PRIME: begin
                    pcnt <= pcnt + 1'b1;
                    k <= 0;
                    xc <= 0;
                    yc <= 0;
                    if (pcnt == img_w) state <= RUN;
                end
                default: begin  // RUN: column step s, pointer p = s + 1 = yc img_w + xc, phase k
                    nbr <= 0;
                    k <= k == KL ? {$clog2(Q){1'b0}} : k + 1'b1;
                    if (k == KL) begin
                        xc <= xc == wl ? {XW{1'b0}} : xc + 1'b1;
                        if (xc == wl) yc <= yc + 1'b1;
                        if (pend) state <= IDLE;
                    end
                end
            endcase
        end
    end

    // ------------------------------------------------------------------ column register and control words
    // control word, registered with the column register (cycle tau(s, k)):
    //   [2:0] INMODE of slice 0, [5:3] slice 1, [8:6] slice 2; [9] W=P/Z=PCIN (phase 2), [10] Z=0 (phase 0);
    //   [11] z (phase 0 of a step), [12] position valid, [13] last phase of the last position, [14+:QB] k
    localparam QB = $clog2(Q) < 1 ? 1 : $clog2(Q);
    localparam CWB = 14 + QB;
    localparam [2:0] IM_D = 3'b110, IM_A1 = 3'b001, IM_A2 = 3'b000, IM_0 = 3'b010;
    wire run = state == RUN;
    assign pend = yc == img_h && xc == 0;
    wire g0 = img_w == 1 ? 1'b1 : xc == 1;  // position s = p - 1 has x = 0
    wire g2 = xc == 0;  // x = img_w - 1
    wire rowok = k == 0 ? yc != 0 : k == 1 ? yc < img_h : k == 2 ? yc < h1 : 1'b0;
    wire [7:0] rsel = k == 0 ? lb2o : k == 1 ? lb1o : src;
    wire [2:0] imk = !run || k > 2 ? IM_0 : k == 0 ? IM_D : k == 1 ? IM_A1 : IM_A2;
    reg signed [8:0] rcol;
    reg [CWB-1:0] cw[0:NCW-1];
    reg signed [8:0] pd[0:NPD-1];
    always @(posedge clk) begin
        rcol <= run && rowok ? $signed({1'b0, rsel}) - $signed({1'b0, off}) : 9'sd0;
        cw[0] <= {
            k,
            run && k == KL && pend,
            run && (yc != 0 || xc != 0),
            run && k == 0,
            run && k == 0,
            run && k == 2,
            g2 ? IM_0 : imk,
            imk,
            g0 ? IM_0 : imk
        };
        for (i = 1; i < NCW; i = i + 1) cw[i] <= rst ? {CWB{1'b0}} : cw[i-1];
        pd[0] <= rst ? 9'sd0 : rcol;
        for (i = 1; i < NPD; i = i + 1) pd[i] <= rst ? 9'sd0 : pd[i-1];
    end
    // pd[j] is the column register delayed j cycles; cw[j] likewise (cw[0] is the column register's cycle)
    wire signed [8:0] pix[0:NPD];
    assign pix[0] = rcol;
    generate
        for (j = 1; j <= NPD; j = j + 1) begin : g_pix
            assign pix[j] = pd[j-1];
        end
    endgenerate

    // ------------------------------------------------------------------ MAC chains and affine slices
    /* verilator lint_off UNUSEDSIGNAL */  // each slice taps a few bits of a control word
    wire [47:0] macp[0:3*CH-1];
    wire [47:0] macc[0:3*CH-1];  // PCOUT
    wire [47:0] affp[0:CH-1];
    wire [CH-1:0] pd_hit, pbd_hit;
    genvar c, dx;
    generate
        for (c = 0; c < CH; c = c + 1) begin : g_ch
            localparam integer G = c / LANES;
            for (dx = 0; dx < 3; dx = dx + 1) begin : g_mac
                localparam integer QI = 3 * c + dx;
                localparam integer FW = QI % WF, RW = QI / WF;
                localparam integer DLY = dx == 2 ? 2 : dx == 1 ? Q + 1 : 2 * Q;
                wire [CWB-1:0] cim = cw[dx+G+1];  // INMODE one cycle after the pixel
                wire [CWB-1:0] cop = cw[dx+G+2];  // OPMODE two cycles after
                wire [8:0] opm = cop[10] ? 9'b00_000_01_01 : (cop[9] && dx > 0) ? 9'b01_001_01_01 : 9'b00_010_01_01;
                bnn_dsp_mac u_mac (
                    .clk(clk),
                    .ld(prm_valid),
                    .a_in(stage[3*RW][8*FW+:8]),
                    .d_in(stage[3*RW+2][8*FW+:8]),
                    .x(pix[DLY+G]),
                    .inmode(cim[3*dx+:3]),
                    .opmode(opm),
                    .pcin(dx == 0 ? 48'd0 : macc[QI-1]),
                    .p(macp[QI]),
                    .pcout(macc[QI])
                );
            end
            localparam integer FM = c % MF, RM = c / MF, FB = c % BF, RB = c / BF;
            wire [CWB-1:0] c7 = cw[G+7], c8 = cw[G+8], c9 = cw[G+9], c10 = cw[G+10];
            bnn_dsp_aff #(
                .AW(AB),
                .PDB(K + VB - 1)
            ) u_aff (
                .clk(clk),
                .ld(prm_valid),
                .b_in(stage[MBASE+2*RM][18*FM+:18]),
                .c_in(stage[BBASE+RB][48*FB+:48]),
                .a(macp[3*c+2][AB-1:0]),
                .cea(c7[11]),
                .bsel(c8[11]),
                .p1(c9[11]),
                .cep(c9[11] | c10[11]),
                .p(affp[c]),
                .pd(pd_hit[c]),
                .pbd(pbd_hit[c])
            );
        end
    endgenerate

    // ------------------------------------------------------------------ output
    wire [CWB-1:0] co = cw[11];
    wire [QB-1:0] gsel = co[14+:QB];
    genvar r;
    generate
        for (r = 0; r < LANES; r = r + 1) begin : g_lane
            // saturation in the flip-flops' synchronous set and reset, no LUT per bit: stage 1 forces a
            // positive overflow (0111..1), stage 2 a negative one (1000..0)
            wire [47:0] pv = affp[gsel*LANES+r];
            wire ok = pd_hit[gsel*LANES+r] | pbd_hit[gsel*LANES+r];
            wire pos = !ok && !pv[47];
            reg neg;
            reg [VB-1:0] x1;
            always @(posedge clk) begin
                neg <= !ok && pv[47];
                x1[VB-1] <= pos ? 1'b0 : pv[K+VB-1];
                x1[VB-2:0] <= pos ? {(VB - 1) {1'b1}} : pv[K+:VB-1];
                x0_data[r*VB+VB-1] <= neg ? 1'b1 : x1[VB-1];
                x0_data[r*VB+:VB-1] <= neg ? {(VB - 1) {1'b0}} : x1[VB-2:0];
            end
        end
    endgenerate
    /* verilator lint_on UNUSEDSIGNAL */
    reg last_d, v1, l1;
    always @(posedge clk) begin
        if (rst) begin
            v1 <= 1'b0;
            x0_valid <= 1'b0;
            done <= 1'b0;
        end else begin
            v1 <= co[12];
            x0_valid <= v1;
            done <= x0_valid && last_d;
        end
    end
    always @(posedge clk) begin
        l1 <= co[13];
        last_d <= l1;
    end
endmodule

// bnn_stem_lbuf: an N-stage shift register of bytes (shifted while ce) read at stage a (q = the byte shifted in
// a + 1 shifts ago). With BNN_DSP48E2 and N <= 32 eight SRLC32E (what Vivado infers from the behavioural code;
// Yosys 0.23 leaves a multiplexer over flip-flops), else behavioural.
module bnn_stem_lbuf #(
    parameter N = 32,
    parameter AW = 5
) (
    input wire clk,
    input wire ce,
    input wire [7:0] d,
    input wire [AW-1:0] a,
    output wire [7:0] q
);
`ifdef BNN_DSP48E2
    localparam USE_SRL = N <= 32;
`else
    localparam USE_SRL = 0;
`endif
`ifdef BNN_DSP48E2
    genvar b;
`endif
    generate
`ifdef BNN_DSP48E2
        if (USE_SRL) begin : g_srl
            wire [4:0] a5 = {{(5 - AW) {1'b0}}, a};
            for (b = 0; b < 8; b = b + 1) begin : g_bit
                SRLC32E #(.INIT(32'h0)) u_srl (.CLK(clk), .CE(ce), .D(d[b]), .A(a5), .Q(q[b]));  // Q31 unconnected (Yosys 0.23 aborts on an empty Q31 pin)
            end
        end
`endif
        if (!USE_SRL) begin : g_fabric
            reg [7:0] sr[0:N-1];
            integer i;
            always @(posedge clk)
                if (ce) begin
                    sr[0] <= d;
                    for (i = 1; i < N; i = i + 1) sr[i] <= sr[i-1];
                end
            assign q = sr[a];
        end
    endgenerate
endmodule

// bnn_dsp_mac: one multiply-accumulate slice of the stem's MAC chains. Three weights held in the slice (A1 -> A2
// and D, loaded together while ld), one chosen per cycle by inmode; x on B (registered, BREG):
//   cycle t: x;  t+1: inmode (3'b110 D, 3'b001 A1, 3'b000 A2, 3'b010 zero: INMODE[2:0], INMODE[4:3] = 0);
//   t+2: opmode (W, Z; X = Y = M) -> p in t+3.   p = W + Z + (weight x), W: 0 or P, Z: 0, PCIN or P.
// With BNN_DSP48E2 one DSP48E2 (AREG 2, DREG 1, BREG 1, MREG 1, PREG 1, AMULTSEL AD), else behavioural; the
// primitive was checked against Xilinx's DSP48E2 model (rtl/README.md, "Stem unit").
module bnn_dsp_mac (
    input wire clk,
    input wire ld,
    input wire [7:0] a_in,
    input wire [7:0] d_in,
    input wire [8:0] x,
    input wire [2:0] inmode,
    /* verilator lint_off UNUSEDSIGNAL */
    input wire [8:0] opmode,  // X and Y (bits 3:0) are M
    /* verilator lint_on UNUSEDSIGNAL */
    input wire [47:0] pcin,
    output wire [47:0] p,
    output wire [47:0] pcout
);
`ifdef BNN_DSP48E2
    /* verilator lint_off PINCONNECTEMPTY */
    DSP48E2 #(
        .AMULTSEL("AD"), .BMULTSEL("B"), .PREADDINSEL("A"), .USE_MULT("MULTIPLY"), .USE_SIMD("ONE48"),
        .A_INPUT("DIRECT"), .B_INPUT("DIRECT"),
        .AREG(2), .ACASCREG(2), .BREG(1), .BCASCREG(1), .DREG(1), .ADREG(0), .INMODEREG(0),
        .MREG(1), .CREG(0), .PREG(1),
        .OPMODEREG(0), .ALUMODEREG(0), .CARRYINREG(0), .CARRYINSELREG(0),
        .USE_PATTERN_DETECT("NO_PATDET")
    ) u_dsp (
        .CLK(clk),
        .A({{22{a_in[7]}}, a_in}), .B({{9{x[8]}}, x}), .C(48'd0), .D({{19{d_in[7]}}, d_in}),
        .ACIN(30'd0), .BCIN(18'd0), .PCIN(pcin), .CARRYCASCIN(1'b0), .MULTSIGNIN(1'b0),
        .OPMODE(opmode), .ALUMODE(4'b0000), .INMODE({2'b00, inmode}),
        .CARRYIN(1'b0), .CARRYINSEL(3'b000),
        .CEA1(ld), .CEA2(ld), .CEB1(1'b0), .CEB2(1'b1), .CED(ld), .CEAD(1'b0),
        .CEM(1'b1), .CEC(1'b0), .CEP(1'b1),
        .CECTRL(1'b1), .CEALUMODE(1'b1), .CEINMODE(1'b1), .CECARRYIN(1'b1),
        .RSTA(1'b0), .RSTB(1'b0), .RSTC(1'b0), .RSTD(1'b0), .RSTM(1'b0), .RSTP(1'b0),
        .RSTCTRL(1'b0), .RSTALUMODE(1'b0), .RSTINMODE(1'b0), .RSTALLCARRYIN(1'b0),
        .P(p), .PCOUT(pcout), .ACOUT(), .BCOUT(), .CARRYCASCOUT(), .CARRYOUT(), .MULTSIGNOUT(),
        .OVERFLOW(), .UNDERFLOW(), .PATTERNDETECT(), .PATTERNBDETECT(), .XOROUT()
    );
    /* verilator lint_on PINCONNECTEMPTY */
`else
    reg signed [7:0] a1, a2, dr;
    reg signed [8:0] b2;
    reg signed [17:0] m;
    reg signed [47:0] pr;
    wire signed [8:0] av = inmode[1] ? 9'sd0 : inmode[0] ? {a1[7], a1} : {a2[7], a2};
    wire signed [8:0] dv = inmode[2] ? {dr[7], dr} : 9'sd0;
    wire signed [8:0] sum = dv + av;
    wire signed [47:0] wv = opmode[8:7] == 2'b01 ? pr : 48'sd0;
    wire signed [47:0] zv = opmode[6:4] == 3'b001 ? $signed(pcin) : opmode[6:4] == 3'b010 ? pr : 48'sd0;
    always @(posedge clk) begin
        if (ld) begin
            a1 <= a_in;
            a2 <= a1;
            dr <= d_in;
        end
        b2 <= x;
        m <= sum * b2;
        pr <= wv + zv + $signed({{30{m[17]}}, m});
    end
    assign p = pr;
    assign pcout = pr;
`endif
endmodule

// bnn_dsp_aff: the stem's affine step for one channel, two cycles on one slice. Parameters in the slice (B1 -> B2
// and C, loaded while ld): B1 = M_lo (17 bits, unsigned), B2 = M_hi (signed), C = B. a (AW bits, signed) is
// taken while cea; then bsel = 1 (B1) for one cycle, 0 after; the cycle after each, with cep:
//   p1 = 1: p = a M_lo + C;      p1 = 0: p = a M_hi + (p >>> 17)
// (the product of the cycle before: MREG). pd / pbd: p[47:PDB] all zeros / all ones (the pattern detector).
module bnn_dsp_aff #(
    parameter AW = 20,
    parameter PDB = 32
) (
    input wire clk,
    input wire ld,
    input wire [17:0] b_in,
    input wire [47:0] c_in,
    input wire [AW-1:0] a,
    input wire cea,
    input wire bsel,
    input wire p1,
    input wire cep,
    output wire [47:0] p,
    output wire pd,
    output wire pbd
);
`ifdef BNN_DSP48E2
    /* verilator lint_off PINCONNECTEMPTY */
    DSP48E2 #(
        .AMULTSEL("A"), .BMULTSEL("B"), .PREADDINSEL("A"), .USE_MULT("MULTIPLY"), .USE_SIMD("ONE48"),
        .A_INPUT("DIRECT"), .B_INPUT("DIRECT"),
        .AREG(1), .ACASCREG(1), .BREG(2), .BCASCREG(2), .DREG(0), .ADREG(0), .INMODEREG(0),
        .MREG(1), .CREG(1), .PREG(1),
        .OPMODEREG(0), .ALUMODEREG(0), .CARRYINREG(0), .CARRYINSELREG(0),
        .USE_PATTERN_DETECT("PATDET"), .SEL_PATTERN("PATTERN"), .SEL_MASK("MASK"),
        .PATTERN(48'd0), .MASK((48'd1 << PDB) - 48'd1)
    ) u_dsp (
        .CLK(clk),
        .A({{(30 - AW) {a[AW-1]}}, a}), .B(b_in), .C(c_in), .D(27'd0),
        .ACIN(30'd0), .BCIN(18'd0), .PCIN(48'd0), .CARRYCASCIN(1'b0), .MULTSIGNIN(1'b0),
        .OPMODE(p1 ? 9'b11_000_01_01 : 9'b00_110_01_01), .ALUMODE(4'b0000), .INMODE({bsel, 4'b0000}),
        .CARRYIN(1'b0), .CARRYINSEL(3'b000),
        .CEA1(1'b0), .CEA2(cea), .CEB1(ld), .CEB2(ld), .CED(1'b0), .CEAD(1'b0),
        .CEM(1'b1), .CEC(ld), .CEP(cep),
        .CECTRL(1'b1), .CEALUMODE(1'b1), .CEINMODE(1'b1), .CECARRYIN(1'b1),
        .RSTA(1'b0), .RSTB(1'b0), .RSTC(1'b0), .RSTD(1'b0), .RSTM(1'b0), .RSTP(1'b0),
        .RSTCTRL(1'b0), .RSTALUMODE(1'b0), .RSTINMODE(1'b0), .RSTALLCARRYIN(1'b0),
        .P(p), .PCOUT(), .ACOUT(), .BCOUT(), .CARRYCASCOUT(), .CARRYOUT(), .MULTSIGNOUT(),
        .OVERFLOW(), .UNDERFLOW(), .PATTERNDETECT(pd), .PATTERNBDETECT(pbd), .XOROUT()
    );
    /* verilator lint_on PINCONNECTEMPTY */
`else
    reg signed [AW-1:0] ar;
    reg signed [17:0] b1, b2;
    reg signed [47:0] cr, pr;
    reg signed [AW+17:0] m;
    wire signed [17:0] bv = bsel ? b1 : b2;
    always @(posedge clk) begin
        if (ld) begin
            b1 <= b_in;
            b2 <= b1;
            cr <= c_in;
        end
        if (cea) ar <= a;
        m <= ar * bv;
        if (cep) pr <= (p1 ? cr : pr >>> 17) + $signed({{(30 - AW) {m[AW+17]}}, m});
    end
    assign p = pr;
    assign pd = pr[47:PDB] == 0;
    assign pbd = &pr[47:PDB];
`endif
endmodule

`default_nettype wire
