// Spatial mask unit (docs/architecture.md section 3, docs/timing.md 4.1).
// Scans a layer's output positions in raster order, one (position, channel block)
// per cycle. For each it reads the nine banks of the window (port B of the input set)
// and the predictor weights of the block, and accumulates
//     score += 2 popcount(XNOR(a, u) & valid) - popcount(valid)
// (valid: tap inside the map and channel < C_in). After the last block of a position,
// active = score >= threshold appends the position to the active list. For stride-1
// layers it also copies each position's centre word to the output set, so skipped
// positions output their input bits.
// Pipeline: issue t (bank/predictor addresses) -> t+1 per-tap popcounts -> t+2 score
// -> t+3 list append. A position's entry is visible 3 cycles after its last block
// (lambda_mask = 3); `done` after the last position's.
// Early scan (EARLY, docs/timing.md 4.5): once the running layer's own scan is over, the unit may scan
// the next layer (its fields read from the layer table, latched at the scan's first issue), each
// output row once the rows of the running layer's output it reads are final (`rows_o`, like the
// LOADed rows of 4.4). Such a scan survives the layer boundary; its list goes to the other half of
// the active list (layer parity), and the running layer keeps its own count (`hold_cnt`).
`default_nettype none
module bnn_mask_unit #(
    parameter BA = 64,
    parameter BAW = 7,  // bits of a 0..BA count
    parameter AAW = 8,
    parameter CW = 8,
    parameter NCW = 4,
    parameter NBW = 3,
    parameter RAW = 12,
    parameter PSW = 12,
    parameter LAW = 10,
    parameter MPW = 6,
    parameter COLS = 16,
    parameter TW = 12,
    parameter LINW = 24,  // list entry, gather side
    parameter LOUTW = 24,  // list entry, epilogue side
    parameter SLW = 1,  // log2 of the predictor slots: layer's blob in slot first_pass mod 2^SLW
    parameter EARLY = 0  // early scan of the next layer (docs/timing.md 4.5)
) (
    input wire clk,
    input wire rst,
    input wire layer_init,
    input wire layer_active,
    input wire mask_en,
    input wire copy_en,
    input wire k3,
    input wire [MPW:0] loaded_cnt,
    input wire [MPW-1:0] first_pass,
    input wire s2,
    input wire in_x,  // the layer reads the input buffer: wait for LOADed rows (docs/timing.md 4.4)
    input wire [CW:0] rows_cnt,
    input wire [CW-1:0] h_in,
    input wire [CW-1:0] w_in,
    input wire [CW-1:0] h_out,
    input wire [CW-1:0] w_out,
    input wire [NCW-1:0] nblk_in,
    input wire [AAW-1:0] w3n_in,
    input wire [NCW-1:0] nblk_out,
    input wire [AAW-1:0] w3n_out,
    input wire [RAW-1:0] nwo,
    input wire [PSW-1:0] positions,
    input wire [BAW-1:0] cv_last,  // valid channels in the last block
    input wire [31:0] threshold,
    output wire [SLW-1:0] thr_slot,  // threshold read address: the scanned layer's blob slot
    // the next layer (EARLY): its flag and fields, the running layer's parity and output rows
    input wire has_next,
    input wire nxt_early,
    input wire nxt_late,  // ... only once the running layer's last gather has ended (`g_over`, 4.5 E4 b)
    input wire g_over,
    input wire nxt_copy,
    input wire nxt_k3,
    input wire nxt_s2,
    input wire [CW-1:0] nxt_h_in,
    input wire [CW-1:0] nxt_w_in,
    input wire [CW-1:0] nxt_h_out,
    input wire [CW-1:0] nxt_w_out,
    input wire [NCW-1:0] nxt_nblk_in,
    input wire [AAW-1:0] nxt_w3n_in,
    input wire [NCW-1:0] nxt_nblk_out,
    input wire [AAW-1:0] nxt_w3n_out,
    input wire [RAW-1:0] nxt_nwo,
    input wire [PSW-1:0] nxt_positions,
    input wire [BAW-1:0] nxt_cv_last,
    input wire [MPW-1:0] nxt_first_pass,
    input wire l_par,
    input wire [CW:0] rows_o,  // complete rows of the running layer's output (docs/timing.md 4.5, E7)
    input wire rows_o_all,  // ... all of them
    output reg tgt_next,  // the unit's scan (running or over) is the next layer's
    output reg list_par,  // list half of the scanned layer
    output wire [CW:0] list_wrow,  // output rows complete after the entry's position (for E7)
    // predictor memory (synchronous read)
    output wire [NBW+SLW-1:0] pr_raddr,
    input wire [9*BA-1:0] pr_rdata,
    // activation banks, port B of the input set / of the output set
    output wire [9*AAW-1:0] mb_addr,
    input wire [9*BA-1:0] mb_data,
    output reg cp_en,
    output reg [3:0] cp_bank,
    output reg [AAW-1:0] cp_addr,
    output wire [BA-1:0] cp_data,
    // active list
    output wire list_we,
    output wire [LAW-1:0] list_waddr,
    output wire [LINW-1:0] list_win,
    output wire [LOUTW-1:0] list_wout,
    output wire [PSW-1:0] list_cnt,  // of the running layer
    output wire done,  // the running layer's scan is over
    output wire fin,  // `done` is set at the end of this cycle
    output wire [TW-1:0] n_tiles_next,  // tiles per pass, including an entry appended this cycle
    output wire h_known,  // at a layer start: the new layer's scan is over (or ends now), with h_tiles tiles
    output wire [TW-1:0] h_tiles
);
    // ------------------------------------------------------------------ scan (issue stage)
    reg scanning, cur_started, done_r;
    reg [PSW-1:0] cnt_r, hold_cnt;
    reg [NCW-1:0] blk;
    reg [PSW-1:0] pcnt;
    // fields of the scanned layer: latched at the first issue, before it the running or the next layer's
    reg l_copy, l_k3, l_s2;
    reg [CW-1:0] l_h_in, l_w_in, l_h_out, l_w_out;
    reg [NCW-1:0] l_nblk_in, l_nblk_out;
    reg [AAW-1:0] l_w3n_in, l_w3n_out;
    reg [RAW-1:0] l_nwo;
    reg [PSW-1:0] l_positions;
    reg [BAW-1:0] l_cv_last;
    reg [MPW-1:0] l_first_pass;
    wire go_cur = layer_active && mask_en && !cur_started && (loaded_cnt > {1'b0, first_pass});
    // the running layer's scan is over (or it has none) and the next layer scans early (4.5, E8)
    wire cur_over = !mask_en || (cur_started && done_r && !tgt_next);
    wire go_nxt = (EARLY != 0) && layer_active && has_next && nxt_early && !tgt_next && !scanning && cur_over &&
        (loaded_cnt > {1'b0, nxt_first_pass}) && (!nxt_late || g_over);
    wire pn = !scanning && go_nxt;  // fields: the next layer's
    wire f_copy = scanning ? l_copy : pn ? nxt_copy : copy_en;
    wire f_k3 = scanning ? l_k3 : pn ? nxt_k3 : k3;
    wire f_s2 = scanning ? l_s2 : pn ? nxt_s2 : s2;
    wire [CW-1:0] f_h_in = scanning ? l_h_in : pn ? nxt_h_in : h_in;
    wire [CW-1:0] f_w_in = scanning ? l_w_in : pn ? nxt_w_in : w_in;
    wire [CW-1:0] f_h_out = scanning ? l_h_out : pn ? nxt_h_out : h_out;
    wire [CW-1:0] f_w_out = scanning ? l_w_out : pn ? nxt_w_out : w_out;
    wire [NCW-1:0] f_nblk_in = scanning ? l_nblk_in : pn ? nxt_nblk_in : nblk_in;
    wire [AAW-1:0] f_w3n_in = scanning ? l_w3n_in : pn ? nxt_w3n_in : w3n_in;
    wire [NCW-1:0] f_nblk_out = scanning ? l_nblk_out : pn ? nxt_nblk_out : nblk_out;
    wire [AAW-1:0] f_w3n_out = scanning ? l_w3n_out : pn ? nxt_w3n_out : w3n_out;
    wire [RAW-1:0] f_nwo = scanning ? l_nwo : pn ? nxt_nwo : nwo;
    wire [PSW-1:0] f_positions = scanning ? l_positions : pn ? nxt_positions : positions;
    wire [BAW-1:0] f_cv_last = scanning ? l_cv_last : pn ? nxt_cv_last : cv_last;
    wire [MPW-1:0] f_first_pass = scanning ? l_first_pass : pn ? nxt_first_pass : first_pass;
    assign thr_slot = f_first_pass[SLW-1:0];
    wire [CW-1:0] yc, xc;
    // a position's window needs input rows up to min(h_in - 1, yc + 1) (3x3) or yc (1x1): checked
    // before its first channel block, against the LOADed rows (4.4) or, scanning the next layer, the
    // running layer's final output rows (4.5)
    wire nxt_mode = scanning ? tgt_next : pn;
    wire row_wait = nxt_mode ? !rows_o_all : in_x;
    wire [CW:0] rcnt = nxt_mode ? rows_o : rows_cnt;
    wire rows_ok = !row_wait || (rcnt == {1'b0, f_h_in}) || (rcnt > {1'b0, yc} + {{CW{1'b0}}, f_k3});
    wire go = go_cur || go_nxt;
    wire issue = (go || scanning) && (blk != 0 || rows_ok);
    wire first_issue = issue && !scanning;
    // a scan carried over a layer start (begun early) keeps running; any other is over by then
    wire keep = tgt_next || (first_issue && go_nxt);
    wire last_blk = (blk == f_nblk_in - 1'b1);
    wire last_pos = (pcnt == f_positions - 1'b1);
    wire [1:0] ycm, xcm;
    wire [AAW-1:0] ibase, obase;
    wire [RAW-1:0] rbase;
    wire [3:0] obank;
    bnn_pos_gen #(.CW(CW), .AAW(AAW), .RAW(RAW), .NCW(NCW)) u_pos (
        .clk(clk), .init(layer_init && !keep && !issue), .adv(issue && last_blk), .s2(f_s2),
        .h_out(f_h_out), .w_out(f_w_out), .nblk_in(f_nblk_in), .w3n_in(f_w3n_in),
        .nblk_out(f_nblk_out), .w3n_out(f_w3n_out), .nwo(f_nwo),
        .yc(yc), .xc(xc), .ycm(ycm), .xcm(xcm), .ibase(ibase), .rbase(rbase), .obank(obank), .obase(obase)
    );
    wire [8:0] tvalid;
    bnn_win_addr #(.AAW(AAW), .CW(CW), .NCW(NCW)) u_wa (
        .yc(yc), .xc(xc), .ym(ycm), .xm(xcm), .ibase(ibase), .blk(blk), .h_in(f_h_in), .w_in(f_w_in),
        .w3n(f_w3n_in), .nblk(f_nblk_in), .k3(f_k3), .addr(mb_addr), .valid(tvalid)
    );
    assign pr_raddr = {f_first_pass[SLW-1:0], blk[NBW-1:0]};
    // output rows complete after this position: y_out + (x_out == w_out - 1)
    wire [CW-1:0] yo_i = f_s2 ? {1'b0, yc[CW-1:1]} : yc;
    wire [CW-1:0] xo_i = f_s2 ? {1'b0, xc[CW-1:1]} : xc;
    wire [CW:0] rowv_i = {1'b0, yo_i} + {{CW{1'b0}}, xo_i == f_w_out - 1'b1};
    // The threshold belongs to the blob's slot: latch it at the scan's first issue, as the slot may
    // be refilled from the end of the scan.
    reg signed [31:0] thr_q;
    always @(posedge clk) if (first_issue) thr_q <= threshold;
    always @(posedge clk) begin
        if (first_issue) begin
            l_copy <= f_copy;
            l_k3 <= f_k3;
            l_s2 <= f_s2;
            l_h_in <= f_h_in;
            l_w_in <= f_w_in;
            l_h_out <= f_h_out;
            l_w_out <= f_w_out;
            l_nblk_in <= f_nblk_in;
            l_w3n_in <= f_w3n_in;
            l_nblk_out <= f_nblk_out;
            l_w3n_out <= f_w3n_out;
            l_nwo <= f_nwo;
            l_positions <= f_positions;
            l_cv_last <= f_cv_last;
            l_first_pass <= f_first_pass;
            list_par <= go_nxt ? !l_par : l_par;
        end
    end
    always @(posedge clk) begin
        if (rst) begin
            scanning <= 1'b0;
            cur_started <= 1'b0;
            tgt_next <= 1'b0;
            blk <= 0;
            pcnt <= 0;
        end else begin
            if (issue) begin
                scanning <= !(last_blk && last_pos);
                blk <= last_blk ? {NCW{1'b0}} : blk + 1'b1;
                if (last_blk) pcnt <= last_pos ? {PSW{1'b0}} : pcnt + 1'b1;
            end else if (layer_init && !keep) begin
                scanning <= 1'b0;
                blk <= 0;
                pcnt <= 0;
            end
            if (layer_init) begin
                tgt_next <= 1'b0;
                cur_started <= keep;
            end else if (first_issue) begin
                if (go_nxt) tgt_next <= 1'b1;
                else cur_started <= 1'b1;
            end
        end
    end

    // ------------------------------------------------------------------ stage 1: per-tap popcounts
    reg v1, last1, first1, lastpos1;
    reg [8:0] tv1;
    reg [1:0] ym1, xm1;
    reg [BA-1:0] cv1;
    reg [LINW-1:0] ein1;
    reg [LOUTW-1:0] eout1;
    reg [CW:0] rw1, rw2, rw3;
    reg [BAW-1:0] cvn1;
    wire [BA-1:0] cv_mask;
    genvar g;
    generate
        for (g = 0; g < BA; g = g + 1) begin : g_cv
            assign cv_mask[g] = !last_blk || (g < f_cv_last);
        end
    endgenerate
    always @(posedge clk) begin
        v1 <= issue;
        last1 <= last_blk;
        first1 <= (blk == 0);
        lastpos1 <= last_blk && last_pos;
        tv1 <= tvalid;
        ym1 <= ycm;
        xm1 <= xcm;
        cv1 <= cv_mask;
        cvn1 <= last_blk ? f_cv_last : BA[BAW-1:0];
        ein1 <= {yc, xc, ycm, xcm, ibase};
        eout1 <= {rbase, obank, obase};
        rw1 <= rowv_i;
        cp_en <= issue && f_copy;
        cp_bank <= {2'b00, ycm} * 4'd3 + {2'b00, xcm};
        cp_addr <= ibase + {{(AAW - NCW) {1'b0}}, blk};
    end
    // centre word of the position: bank (ym, xm) read in the issue cycle, written now
    assign cp_data = mb_data[cp_bank * BA +: BA];

    wire [9*BA-1:0] taps;
    wire [9*BA-1:0] pw;
    bnn_rot9 #(.X(BA)) u_rot (.bank(mb_data), .ym(ym1), .xm(xm1), .tap(taps));
    wire [9*BAW-1:0] pc;
    genvar t;
    generate
        for (t = 0; t < 9; t = t + 1) begin : g_tap
            wire [BA-1:0] x = ~(taps[t * BA +: BA] ^ pw[t * BA +: BA]) & cv1 & {BA{tv1[t]}};
            bnn_popcount #(.N(BA), .OW(BAW)) u_pc (.v(x), .cnt(pc[t * BAW +: BAW]));
        end
        // predictor entry: channel c, tap n at bit c*9 + n; regroup per tap
        for (t = 0; t < 9; t = t + 1) begin : g_pw
            for (g = 0; g < BA; g = g + 1) begin : g_c
                assign pw[t * BA + g] = pr_rdata[g * 9 + t];
            end
        end
    endgenerate
    reg v2, last2, first2, lastpos2;
    reg [BAW+3:0] pcs2;  // sum of the nine popcounts
    reg [BAW+3:0] pm2;  // valid bits of the block: taps x channels
    reg [LINW-1:0] ein2;
    reg [LOUTW-1:0] eout2;
    reg [3:0] ntv;
    reg [BAW+3:0] pcsum;
    integer m;
    always @* begin
        ntv = 4'd0;
        pcsum = {(BAW + 4) {1'b0}};
        for (m = 0; m < 9; m = m + 1) begin
            ntv = ntv + {3'b000, tv1[m]};
            pcsum = pcsum + {4'b0000, pc[m * BAW +: BAW]};
        end
    end
    always @(posedge clk) begin
        v2 <= v1;
        last2 <= last1;
        first2 <= first1;
        lastpos2 <= lastpos1;
        pcs2 <= pcsum;
        pm2 <= ntv * cvn1;
        ein2 <= ein1;
        eout2 <= eout1;
        rw2 <= rw1;
    end

    // ------------------------------------------------------------------ stage 2: score
    reg signed [31:0] score;
    wire signed [31:0] blk_score = $signed({{(27 - BAW) {1'b0}}, pcs2, 1'b0}) - $signed({{(28 - BAW) {1'b0}}, pm2});
    reg v3, last3, lastpos3;
    reg [LINW-1:0] ein3;
    reg [LOUTW-1:0] eout3;
    always @(posedge clk) begin
        if (v2) score <= (first2 ? 32'sd0 : score) + blk_score;
        v3 <= v2;
        last3 <= last2;
        lastpos3 <= lastpos2;
        ein3 <= ein2;
        eout3 <= eout2;
        rw3 <= rw2;
    end

    // ------------------------------------------------------------------ stage 3: list append
    wire active = v3 && last3 && (score >= thr_q);
    localparam integer COLS_M1 = COLS - 1;
    reg [TW-1:0] n_tiles;
    reg [TW-1:0] tsub;  // entries in the last tile, mod COLS
    assign list_we = active;
    assign list_waddr = cnt_r[LAW-1:0];
    assign list_win = ein3;
    assign list_wout = eout3;
    assign list_wrow = rw3;
    wire fin_r = v3 && lastpos3;
    wire [PSW-1:0] list_cnt_next = cnt_r + {{(PSW - 1) {1'b0}}, active};
    wire [TW-1:0] tiles_next = n_tiles + {{(TW - 1) {1'b0}}, active && (tsub == 0)};
    // the running layer sees its own scan: over once the unit scans the next one
    assign list_cnt = tgt_next ? hold_cnt : cnt_r;
    assign done = tgt_next || done_r;
    assign fin = fin_r && !tgt_next;
    assign n_tiles_next = tiles_next;
    assign h_known = tgt_next && (done_r || fin_r);
    assign h_tiles = tiles_next;
    always @(posedge clk) begin
        if (rst || first_issue || (layer_init && !keep)) begin
            // a new scan (or layer): the previous scan's appends are over (done)
            if (first_issue && go_nxt) hold_cnt <= cnt_r;
            cnt_r <= 0;
            n_tiles <= 0;
            tsub <= 0;
            done_r <= 1'b0;
        end else begin
            cnt_r <= list_cnt_next;
            n_tiles <= tiles_next;
            if (active) tsub <= (tsub == COLS_M1[TW-1:0]) ? {TW{1'b0}} : tsub + 1'b1;
            if (fin_r) done_r <= 1'b1;
        end
    end
endmodule
`default_nettype wire
