// AXI4 read DMA (docs/timing.md section 3).
// Jobs, strictly in order: job 0 is the LOAD of the input map, job i+1 the blob of
// pass i. A job is cut into bursts of at most BMAX beats; one AR per cycle, at most
// O_R bursts outstanding (a burst counts until its last R beat). Blob i fills the
// weight ring from entry wbase_i on (wrapping) and slot i mod 2^SLW of the parameter,
// predictor and threshold memories; it may start once blobs 0 .. need_i - 1 are
// loaded and freed by their consumers (docs/timing.md section 3).
// R beats are accepted at once (RREADY = 1), registered, and written the next cycle
// into their destination: the residual buffer and activation set 0 (LOAD), or the
// weight, parameter and predictor memories (blob sections, each starting
// on a beat boundary, docs/formats.md 4.2). A job's data is usable two cycles after
// its last beat (lambda_load = 2): beat register, then the memory write.
// With the stem unit (STEM = 1, docs/timing.md 3.1) the LOAD's registered R beats are the raw image,
// fed to bnn_stem; its x0 beats take their own register (blob beats keep using the R-beat register
// meanwhile) and then the LOAD path, so x0 beat j is written in X_j + 1 and usable lambda_load after X_j.
`default_nettype none
module bnn_rd_dma #(
    parameter D = 128,
    parameter BMAX = 16,
    parameter O_R = 8,
    parameter ORW = 4,
    parameter AXW = 32,
    parameter BTW = 24,
    parameter MPW = 6,
    parameter BPR = 2,
    parameter BPRW = 1,
    parameter RESW = 256,
    parameter RAW = 12,
    parameter ROWS = 16,
    parameter VB = 16,
    parameter LANES = 4,
    parameter LW = 2,
    parameter AAW = 8,
    parameter CW = 8,
    parameter NCW = 4,
    parameter E_MEM = 192,
    parameter WGR = 64,
    parameter CB1 = 192,
    parameter CB3 = 192,
    parameter WFW = 3,
    parameter WAW = 12,
    parameter PW = 768,
    parameter PGR = 128,
    parameter PFW = 4,
    parameter GW = 3,
    parameter PRW = 576,
    parameter PRGR = 64,
    parameter PRFW = 4,
    parameter NBW = 3,
    parameter SLW = 1,  // log2 of the parameter/predictor/threshold slots (1 <= SLW <= MPW)
    parameter SPARSE = 1,
    parameter INBUF = 0,  // input buffer: jobs blob 0, LOAD, blob 1, ... (docs/timing.md 3) and a row counter
    parameter STEM = 0,  // the stem unit turns the LOAD's raw image into x0 (docs/timing.md 3.1)
    parameter STEM_CH = 64,  // its channels, largest image and fixed shift (bnn_stem.v)
    parameter STEM_H = 32,
    parameter STEM_W = 32,
    parameter STEM_S = 34
) (
    input wire clk,
    input wire clr,  // reset, and the end of every run
    input wire start,
    input wire run,
    input wire [MPW:0] n_passes,
    input wire [AXW-1:0] load_addr,
    input wire [BTW-1:0] load_beats,
    input wire [CW-1:0] load_h,
    input wire [CW-1:0] load_w,
    input wire [NCW-1:0] load_nblk,
    input wire [AAW-1:0] load_w3n,
    input wire [RAW-1:0] load_nwo,
    // stem unit (STEM): input offset and the parameter beats (bnn_regs, STEM_PRM)
    /* verilator lint_off UNUSEDSIGNAL */
    input wire [7:0] stem_off,
    input wire stem_en,  // 0: the unit is bypassed and the LOAD's R beats are x0, as with STEM = 0 (ST6)
    input wire stem_prm_valid,
    input wire [D-1:0] stem_prm_data,
    /* verilator lint_on UNUSEDSIGNAL */
    // pass table, AR side (job being requested) and R side (job being received)
    output wire [MPW-1:0] ar_pidx,
    input wire [AXW-1:0] ar_paddr,
    input wire [BTW-1:0] ar_pbeats,
    input wire [MPW:0] ar_need,  // blobs that must be free before this one may start
    output wire [MPW-1:0] r_pidx,
    input wire [BTW-1:0] r_wbeats,
    input wire [BTW-1:0] r_pbeats,
    input wire [BTW-1:0] r_prbeats,
    input wire [WAW:0] r_went,
    input wire [WAW:0] r_wbase,  // first weight-ring entry of the blob being received
    input wire r_k3,
    input wire [MPW:0] ep_done,  // passes whose epilogue (and mask scan) are finished
    output reg [MPW:0] loaded_cnt,  // blobs whose data is usable
    output wire load_fin,  // the LOAD's last write happens in this cycle
    output reg [CW:0] rows_cnt,  // input rows whose last residual word and sign bits are written
    // AXI4 read channels
    output wire m_arvalid,
    input wire m_arready,
    output wire [AXW-1:0] m_araddr,
    output wire [7:0] m_arlen,
    input wire m_rvalid,
    output wire m_rready,
    input wire [D-1:0] m_rdata,
    input wire m_rlast,
    // destinations
    output wire res_we,
    output wire [RAW-1:0] res_waddr,
    output wire [RESW-1:0] res_wdata,
    output wire act_we,
    output wire [3:0] act_bank,
    output wire [AAW-1:0] act_addr,
    output wire [LW-1:0] act_lane,
    output wire [ROWS-1:0] act_data,
    output wire w_we,
    output wire [WAW:0] w_addr,
    output wire [E_MEM-1:0] w_data,
    output wire p_we,
    output wire [GW+SLW-1:0] p_addr,
    output wire [PW-1:0] p_data,
    output wire pr_we,
    output wire [NBW+SLW-1:0] pr_addr,
    output wire [PRW-1:0] pr_data,
    output wire thr_we,
    output wire [SLW-1:0] thr_slot,
    output wire [31:0] thr_data
);
    localparam BEAT_BYTES = D / 8;
    localparam integer BPR_M1 = BPR - 1;
    localparam integer LANES_M1 = LANES - 1;

    // ------------------------------------------------------------------ AR side
    reg [MPW:0] jr;  // job being requested
    reg started;  // some bursts of job jr already requested
    reg [BTW-1:0] rem;
    reg [AXW-1:0] addr;
    reg [ORW-1:0] outst;
    // job order: the LOAD is job pre (0, or 1 with an input buffer: blob 0 goes first, unless the stem unit
    // computes x0 (STEM and stem_en, rule ST7): its raw LOAD is short and goes first); blob i is job i or i + 1
    wire [MPW:0] pre = (INBUF != 0 && !(STEM != 0 && stem_en)) ? 1 : 0;
    wire is_load = (jr == pre);
    assign ar_pidx = (jr > pre) ? jr[MPW-1:0] - 1'b1 : jr[MPW-1:0];
    wire [BTW-1:0] jbeats = started ? rem : (is_load ? load_beats : ar_pbeats);
    wire [AXW-1:0] jaddr = started ? addr : (is_load ? load_addr : ar_paddr);
    // blob i = jr - 1 needs blobs 0 .. need_i - 1 done: loaded and freed by their consumers
    wire allowed = is_load || ((loaded_cnt >= ar_need) && (ep_done >= ar_need));
    wire [BTW-1:0] blen = (jbeats > BMAX) ? BMAX : jbeats;
    assign m_arvalid = (start || run) && (jr <= n_passes) && (started || allowed) && (outst < O_R);
    assign m_araddr = jaddr;
    assign m_arlen = blen[7:0] - 1'b1;
    wire ar_hs = m_arvalid && m_arready;
    wire r_hs = m_rvalid;  // RREADY is always 1
    wire r_burst_end = r_hs && m_rlast;
    assign m_rready = 1'b1;

    always @(posedge clk) begin
        if (clr) begin
            jr <= 0;
            started <= 1'b0;
            rem <= 0;
            addr <= 0;
            outst <= 0;
        end else begin
            if (ar_hs) begin
                if (jbeats == blen) begin
                    jr <= jr + 1'b1;
                    started <= 1'b0;
                end else begin
                    started <= 1'b1;
                    rem <= jbeats - blen;
                    addr <= jaddr + blen * BEAT_BYTES;
                end
            end
            outst <= outst + {{(ORW - 1) {1'b0}}, ar_hs} - {{(ORW - 1) {1'b0}}, r_burst_end};
        end
    end

    // ------------------------------------------------------------------ R side: classify and register
    reg [MPW:0] rj;  // job being received
    reg [BTW-1:0] rbeat;  // beat within the job
    wire r_is_load = (rj == pre);
    assign r_pidx = (rj > pre) ? rj[MPW-1:0] - 1'b1 : rj[MPW-1:0];
    wire [BTW-1:0] wend = r_wbeats;
    wire [BTW-1:0] pend = r_wbeats + r_pbeats;
    wire [BTW-1:0] rtot = r_wbeats + r_pbeats + r_prbeats;
    wire last_of_job = r_is_load ? (rbeat == load_beats - 1'b1) : (rbeat == rtot - 1'b1);
    // section: 0 weights, 1 parameters, 2 threshold beat, 3 predictor bits
    wire [1:0] sec = (rbeat < wend) ? 2'd0 : (rbeat < pend) ? 2'd1 : (rbeat == pend) ? 2'd2 : 2'd3;
    wire sec_first = (rbeat == 0) || (rbeat == wend) || (rbeat == pend + 1'b1);

    reg s1_v, s1_load, s1_first, s1_lastw, s1_last, s1_k3;
    reg [SLW-1:0] s1_slot;
    reg [WAW:0] s1_wbase;
    reg [1:0] s1_sec;
    reg [D-1:0] s1_data;
    reg [WAW:0] s1_went;
    always @(posedge clk) begin
        if (clr) begin
            rj <= 0;
            rbeat <= 0;
            s1_v <= 1'b0;
        end else begin
            s1_v <= r_hs;
            if (r_hs) begin
                rbeat <= last_of_job ? {BTW{1'b0}} : rbeat + 1'b1;
                if (last_of_job) rj <= rj + 1'b1;
            end
        end
        s1_data <= m_rdata;
        s1_load <= r_is_load;
        s1_sec <= sec;
        s1_first <= sec_first;
        s1_lastw <= (rbeat == wend - 1'b1);
        s1_last <= last_of_job;
        s1_slot <= r_pidx[SLW-1:0];
        s1_wbase <= r_wbase;
        s1_k3 <= r_k3;
        s1_went <= r_went;
    end
    // ------------------------------------------------------------------ stem unit
    // The LOAD path takes its beats (ld_v, ld_data) from the R-beat register, or with STEM and stem_en from
    // the stem unit's x0 register; ld_fin: the LOAD's last beat is there. With stem_en low (a model whose stem
    // the unit cannot compute, ST6) the R beats are x0 and bypass the unit, in the cycles of STEM = 0.
    wire ld_v, ld_fin;
    wire [D-1:0] ld_data;
    generate
        if (STEM != 0) begin : g_stem
            localparam YB = $clog2(STEM_H + 2), XB = $clog2(STEM_W + 2);
            if (YB > CW || XB > CW) begin : g_illegal
                bnn_rd_dma_stem_size_exceeds_cw u_stop ();
            end
            wire x0_valid, x0_done;
            wire [D-1:0] x0_data;
            bnn_stem #(
                .CH(STEM_CH), .LANES(D / VB), .VB(VB), .D(D), .H(STEM_H), .W(STEM_W), .S(STEM_S)
            ) u_stem (
                .clk(clk), .rst(clr), .off(stem_off), .img_h(load_h[YB-1:0]), .img_w(load_w[XB-1:0]),
                .prm_valid(stem_prm_valid), .prm_data(stem_prm_data),
                .img_valid(stem_en && s1_v && s1_load), .img_data(s1_data), .img_last(s1_last),
                .x0_valid(x0_valid), .x0_data(x0_data), .done(x0_done)
            );
            // x0's own stage register: x0 beat j in cycle X_j, written in X_j + 1 (like s1 for R beats)
            reg x1_v;
            reg [D-1:0] x1_data;
            always @(posedge clk) begin
                x1_v <= !clr && x0_valid;
                x1_data <= x0_data;
            end
            assign ld_v = stem_en ? x1_v : s1_v && s1_load;
            assign ld_data = stem_en ? x1_data : s1_data;
            // with the unit: the cycle after the last x0 beat, when that beat is in x1
            assign ld_fin = stem_en ? x0_done : s1_v && s1_load && s1_last;
        end else begin : g_nostem
            assign ld_v = s1_v && s1_load;
            assign ld_data = s1_data;
            assign ld_fin = s1_v && s1_load && s1_last;
        end
    endgenerate

    // ------------------------------------------------------------------ stage 2: LOAD path
    wire sl = ld_v;
    reg [RESW-1:0] lacc;
    reg [BPRW-1:0] lbc;
    reg [RESW-1:0] lword;
    integer i;
    always @* begin
        lword = lacc;
        for (i = 0; i < BPR; i = i + 1)
            if (lbc == i[BPRW-1:0]) lword[i * D +: D] = ld_data;
    end
    wire lword_done = sl && (lbc == BPR_M1[BPRW-1:0]);
    reg [RAW-1:0] lwc;  // residual word
    reg [RAW-1:0] lwp;  // word within the position
    reg [LW-1:0] llane;
    reg [NCW-1:0] lblk;
    wire [3:0] lobank;
    wire [AAW-1:0] lobase;
    wire [CW-1:0] lxc;
    wire lpos_adv = lword_done && (lwp == load_nwo - 1'b1);
    /* verilator lint_off PINCONNECTEMPTY */
    // only the output-side addresses of the position generator are needed for the LOAD
    bnn_pos_gen #(.CW(CW), .AAW(AAW), .RAW(RAW), .NCW(NCW)) u_lpos (
        .clk(clk), .init(clr), .adv(lpos_adv), .s2(1'b0),
        .h_out(load_h), .w_out(load_w), .nblk_in(load_nblk), .w3n_in(load_w3n),
        .nblk_out(load_nblk), .w3n_out(load_w3n), .nwo(load_nwo),
        .yc(), .xc(lxc), .ycm(), .xcm(), .ibase(), .rbase(), .obank(lobank), .obase(lobase)
    );
    /* verilator lint_on PINCONNECTEMPTY */
    always @(posedge clk) begin
        if (clr) begin
            lacc <= 0;
            lbc <= 0;
            lwc <= 0;
            lwp <= 0;
            llane <= 0;
            lblk <= 0;
        end else if (sl) begin
            lacc <= lword;
            lbc <= (lbc == BPR_M1[BPRW-1:0]) ? {BPRW{1'b0}} : lbc + 1'b1;
            if (lword_done) begin
                lwc <= lwc + 1'b1;
                if (lpos_adv) begin
                    lwp <= 0;
                    llane <= 0;
                    lblk <= 0;
                end else begin
                    lwp <= lwp + 1'b1;
                    if (llane == LANES_M1[LW-1:0]) begin
                        llane <= 0;
                        lblk <= lblk + 1'b1;
                    end else llane <= llane + 1'b1;
                end
            end
        end
    end
    // a row is complete with the last word of its last position; the count is visible the next cycle,
    // lambda_load = 2 after the beat, with the written words
    always @(posedge clk) begin
        if (clr) rows_cnt <= 0;
        else if (lpos_adv && (lxc == load_w - 1'b1)) rows_cnt <= rows_cnt + 1'b1;
    end
    assign res_we = lword_done;
    assign res_waddr = lwc;
    assign res_wdata = lword;
    genvar g;
    generate
        for (g = 0; g < ROWS; g = g + 1) begin : g_sign
            assign act_data[g] = ~lword[g * VB + VB - 1];  // sign(v): 1 if v >= 0
        end
    endgenerate
    assign act_we = lword_done;
    assign act_bank = lobank;
    assign act_addr = lobase + {{(AAW - NCW) {1'b0}}, lblk};
    assign act_lane = llane;
    assign load_fin = ld_fin;

    // ------------------------------------------------------------------ stage 2: blob sections
    wire sb = s1_v && !s1_load;
    // weights: entries of E_MEM bits, each taking the next m steps of the stream
    reg [WAW:0] wcnt;
    reg wflush;
    reg [WAW:0] wflush_base;
    wire w_in = sb && (s1_sec == 2'd0);
    wire w_emit;
    wire [WAW:0] wcnt_eff = (w_in && s1_first) ? {(WAW + 1) {1'b0}} : wcnt;
    bnn_gearbox #(.IN_W(D), .OUT_W(E_MEM), .GRAN(WGR), .CB_A(CB1), .CB_B(CB3), .FW(WFW)) u_wgb (
        .clk(clk), .rst(clr), .in_valid(w_in), .in_first(s1_first), .in_data(s1_data), .sel_b(s1_k3),
        .flush(wflush), .out_valid(w_emit), .out_data(w_data)
    );
    assign w_we = w_emit;
    // ring address: base + entry, wrapping modulo the 2^(WAW+1) entries
    assign w_addr = wflush ? wflush_base + wcnt : s1_wbase + wcnt_eff;
    wire [WAW:0] wcnt_next = wcnt_eff + {{WAW{1'b0}}, w_in && w_emit};
    always @(posedge clk) begin
        if (clr) begin
            wcnt <= 0;
            wflush <= 1'b0;
            wflush_base <= 0;
        end else begin
            if (w_in) wcnt <= wcnt_next;
            if (wflush) wcnt <= wcnt + 1'b1;
            // a partial entry (steps left over after the last full one) is written next cycle
            wflush <= w_in && s1_lastw && (wcnt_next < s1_went);
            wflush_base <= s1_wbase;
        end
    end

    // parameters: one entry per channel slot (all rows)
    reg [GW:0] pcnt;
    wire p_in = sb && (s1_sec == 2'd1);
    wire p_emit;
    wire [GW:0] pcnt_eff = (p_in && s1_first) ? {(GW + 1) {1'b0}} : pcnt;
    bnn_gearbox #(.IN_W(D), .OUT_W(PW), .GRAN(PGR), .CB_A(PW), .CB_B(PW), .FW(PFW)) u_pgb (
        .clk(clk), .rst(clr), .in_valid(p_in), .in_first(s1_first), .in_data(s1_data), .sel_b(1'b0),
        .flush(1'b0), .out_valid(p_emit), .out_data(p_data)
    );
    assign p_we = p_emit;
    assign p_addr = {s1_slot, pcnt_eff[GW-1:0]};
    always @(posedge clk) begin
        if (clr) pcnt <= 0;
        else if (p_in) pcnt <= pcnt_eff + {{GW{1'b0}}, p_emit};
    end

    // predictor: threshold beat, then one entry of 9 x BA bits per channel block
    assign thr_we = sb && (s1_sec == 2'd2);
    assign thr_slot = s1_slot;
    assign thr_data = s1_data[31:0];
    generate
        if (SPARSE != 0) begin : g_pred
            reg [NBW:0] prcnt;
            wire pr_in = sb && (s1_sec == 2'd3);
            wire pr_emit;
            wire [NBW:0] prcnt_eff = (pr_in && s1_first) ? {(NBW + 1) {1'b0}} : prcnt;
            bnn_gearbox #(.IN_W(D), .OUT_W(PRW), .GRAN(PRGR), .CB_A(PRW), .CB_B(PRW), .FW(PRFW)) u_prgb (
                .clk(clk), .rst(clr), .in_valid(pr_in), .in_first(s1_first), .in_data(s1_data), .sel_b(1'b0),
                .flush(1'b0), .out_valid(pr_emit), .out_data(pr_data)
            );
            assign pr_we = pr_emit;
            assign pr_addr = {s1_slot, prcnt_eff[NBW-1:0]};
            always @(posedge clk) begin
                if (clr) prcnt <= 0;
                else if (pr_in) prcnt <= prcnt_eff + {{NBW{1'b0}}, pr_emit};
            end
        end else begin : g_nopred
            assign pr_we = 1'b0;
            assign pr_addr = {(NBW + SLW) {1'b0}};
            assign pr_data = {PRW{1'b0}};
        end
    endgenerate

    always @(posedge clk) begin
        if (clr) loaded_cnt <= 0;
        else if (sb && s1_last) loaded_cnt <= loaded_cnt + 1'b1;
    end
endmodule
`default_nettype wire
