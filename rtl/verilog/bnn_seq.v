// Programme sequencer: LOAD, the layers one after the other, STORE (docs/timing.md 2-5).
// States: idle -> LOAD (the read DMA streams the input map) -> LAYER l -> ... -> STORE
// -> idle with `done`. A layer ends when its mask scan is over, the epilogue has written
// every tile of every pass (the epilogue's last outputs visible), and every blob of the
// layer is loaded; the next layer starts the following cycle (lambda_layer = 1).
// In the cycle a layer ends (`layer_init`), every unit resets its per-layer counters
// and the layer's fields are loaded, so they all see the new layer together.
// It also keeps the slot bookkeeping the read DMA needs: how many passes are finished
// (their epilogue and mask scan over), counting per pass once the number of tiles per
// pass is known (at once without a predictor, at the end of the scan with one).
// A stream of n_images images (docs/timing.md 9): image n begins at S(n) (rule S2: the cycle after
// the last layer of image n-1 ends with a pooled STORE, the cycle after STORE(n-1)'s last W beat
// with a map STORE), which acts as its `start` (S3: `img_next` in the cycle before clears the read
// DMA and the layer registers); the write DMA finishes STORE(n-1) meanwhile (S5). With a pooled
// STORE the last layer of image n waits for STORE(n-1)'s last W beat (S4: the sum store is read).
// Every STORE's last B response logs its image's DONE; `done` follows the last image's.
`default_nettype none
module bnn_seq #(
    parameter MLW = 5,
    parameter MPW = 6,
    parameter UW = 16,
    parameter INBUF = 0,  // input buffer: layer 1 starts with the run and overlaps the LOAD (docs/timing.md 4.4)
    parameter NIW = 16,  // bits of the image count of a stream
    parameter DLW = 4  // images whose DONE cycle is logged: 2^DLW
) (
    input wire clk,
    input wire rst,
    input wire start,
    input wire [MLW:0] n_layers,
    input wire load_fin,
    input wire [MPW:0] loaded_cnt,
    input wire wr_fin,
    // stream (docs/timing.md 9)
    input wire [NIW-1:0] n_images,
    input wire cur_pool,  // the last layer's pooled STORE (its flag, at store_init)
    input wire w_left,  // the write DMA still has W beats of its STORE to send
    input wire w_last,  // ... and sends the last one in this cycle
    // current layer fields
    input wire cur_mask_en,
    input wire cur_swap,
    input wire [UW-1:0] nxt_tiles,
    input wire nxt_mask_en,
    input wire [MPW-1:0] cur_first_pass,
    input wire [MPW:0] cur_n_pass,
    // unit status
    input wire mask_done,
    input wire mask_fin,
    input wire [UW-1:0] mask_tiles_next,
    // early scan (docs/timing.md 4.5): at a layer start, the new layer's scan may be over already
    input wire h_known,
    input wire [UW-1:0] h_tiles,
    input wire [MPW:0] nxt_n_pass,
    input wire e_tile_end,
    input wire [UW-1:0] e_done,
    input wire [UW-1:0] e_out,
    // control
    output reg busy,
    output reg done,
    output wire layer_active,
    output wire layer_init,
    output wire [MLW-1:0] cl_idx,
    output wire cl_clear,
    output wire store_init,
    output reg in_set,
    output reg in_x,  // input buffer: the running layer reads the input map (no main layer has run yet)
    output wire first_l,  // input buffer: the running layer is layer 1 (its residual is the input map)
    output wire [MPW:0] ep_done,  // passes whose slot may be refilled (epilogue and scan over)
    output wire run_end,
    output wire has_next,  // a layer follows the running one
    output wire l_par,  // the running layer's parity (its half of the active list)
    output wire outs_final,  // every output of the running layer is written (docs/timing.md 4.5, E7)
    output reg [31:0] cycles,  // cycles of the last run
    output wire log_we,
    output wire [MLW-1:0] log_idx,
    output wire [31:0] log_data,
    output wire img_next,  // the cycle before the next image of the stream begins (its S(n) - 1)
    output wire dlog_we,  // an image's STORE is over: its DONE cycle
    output wire [DLW-1:0] dlog_idx,
    output wire [31:0] dlog_data
);
    localparam S_IDLE = 2'd0, S_LOAD = 2'd1, S_LAYER = 2'd2, S_STORE = 2'd3;
    reg [1:0] st;
    reg [MLW-1:0] l;
    reg [31:0] cyc;
    wire [31:0] now = start ? 32'd0 : cyc;

    // ------------------------------------------------------------------ pass bookkeeping
    reg [MPW:0] ep_cnt;  // passes of the current layer finished
    reg [UW-1:0] ep_bound;  // epilogue tiles after which the next pass is finished
    reg [UW-1:0] tpp;  // tiles per pass
    reg t_known;
    wire [UW-1:0] e_after = e_done + {{(UW - 1) {1'b0}}, e_tile_end};
    assign ep_done = {1'b0, cur_first_pass} + ep_cnt;

    // input buffer: an input-reading layer also ends after the whole LOAD (visible lambda_load after its last beat)
    reg load_seen;
    assign layer_active = (st == S_LAYER);
    wire lend = layer_active && (!cur_mask_en || mask_done) && (ep_cnt == cur_n_pass) &&
        (e_out == e_done) && (loaded_cnt >= {1'b0, cur_first_pass} + cur_n_pass) && (!in_x || load_seen);
    wire last_layer = ({1'b0, l} == n_layers - 1'b1);
    // stream: images begun and images stored; `restart` is cycle S(n), image n's `start`
    reg [NIW-1:0] img, dcnt;
    reg restart, pend;
    wire [NIW-1:0] n_img = (n_images == 0) ? 1 : n_images;
    wire more = (img != n_img - 1'b1);
    wire go = start || restart;
    // S4: the last layer starts once the previous STORE has sent its last W beat (only a pooled
    // STORE can still be sending then; in latency mode w_left is clear)
    wire s4_ok = !w_left || w_last;
    wire nxt_last = ({1'b0, l} + 1'b1 == n_layers - 1'b1);
    wire l1_ok = (n_layers != 1) || s4_ok;
    wire layer_end = lend && (last_layer || !nxt_last || s4_ok);
    reg logged;  // a layer held by S4 logs its end once, when it ended
    // input buffer: layer 1 is set up with `start` (or S(n)), unless S4 holds it
    wire run_init = (INBUF != 0) && (st == S_IDLE) && (go || pend) && l1_ok;
    assign layer_init = (st == S_LOAD && (load_fin || load_seen) && l1_ok) || run_init || (layer_end && !last_layer);
    assign cl_idx = (st != S_LAYER) ? {MLW{1'b0}} : l + 1'b1;
    assign first_l = (INBUF != 0) && (l == {MLW{1'b0}});
    assign store_init = layer_end && last_layer;
    assign run_end = wr_fin && (dcnt == n_img - 1'b1);
    // the next image begins after this one's last layer (pooled) or its STORE's last W beat (map)
    assign img_next = more && ((store_init && cur_pool) || (st == S_STORE && w_last));
    assign cl_clear = run_end || img_next;
    assign has_next = !last_layer;
    assign l_par = l[0];
    assign outs_final = (!cur_mask_en || mask_done) && (ep_cnt == cur_n_pass) && (e_out == e_done);
    assign log_we = lend && !logged;
    assign log_idx = l;
    assign log_data = now + 1'b1;
    assign dlog_we = wr_fin && (dcnt < (1 << DLW));
    assign dlog_idx = dcnt[DLW-1:0];
    assign dlog_data = now + 1'b1;

    always @(posedge clk) begin
        if (rst) begin
            st <= S_IDLE;
            busy <= 1'b0;
            done <= 1'b0;
            l <= 0;
            cyc <= 0;
            cycles <= 0;
            in_set <= 1'b0;
            in_x <= 1'b0;
            load_seen <= 1'b0;
            img <= 0;
            dcnt <= 0;
            restart <= 1'b0;
            pend <= 1'b0;
            logged <= 1'b0;
        end else begin
            if (start || busy) cyc <= now + 1'b1;
            if (load_fin) load_seen <= 1'b1;
            restart <= img_next;
            logged <= lend && !layer_end;
            if (img_next) img <= img + 1'b1;
            if (wr_fin) dcnt <= dcnt + 1'b1;
            case (st)
                S_IDLE: begin
                    if (go) begin
                        busy <= 1'b1;
                        done <= 1'b0;
                        in_set <= 1'b0;
                        in_x <= (INBUF != 0);
                        load_seen <= 1'b0;
                        l <= 0;
                    end
                    if (start) begin
                        img <= 0;
                        dcnt <= 0;
                    end
                    // an input-buffer image whose only layer S4 holds waits here (pend)
                    if (go || pend) begin
                        if (INBUF == 0 || l1_ok) st <= (INBUF != 0) ? S_LAYER : S_LOAD;
                        pend <= (INBUF != 0) && !l1_ok;
                    end
                end
                S_LOAD:
                if ((load_fin || load_seen) && l1_ok) st <= S_LAYER;
                S_LAYER:
                if (layer_end) begin
                    if (cur_swap) in_set <= !in_set;
                    if (cur_swap) in_x <= 1'b0;
                    if (last_layer) st <= img_next ? S_IDLE : S_STORE;
                    else l <= l + 1'b1;
                end
                default:
                if (img_next) st <= S_IDLE;
            endcase
            if (run_end) begin
                st <= S_IDLE;
                busy <= 1'b0;
                done <= 1'b1;
                cycles <= now + 1'b1;
            end
        end
    end

    always @(posedge clk) begin
        if (rst || layer_init || run_end || img_next) begin
            // an early scan over before the layer starts gives its tiles at once (4.5)
            ep_cnt <= (layer_init && h_known && h_tiles == 0) ? nxt_n_pass : {(MPW + 1) {1'b0}};
            t_known <= !nxt_mask_en || (layer_init && h_known);
            tpp <= (layer_init && h_known) ? h_tiles : nxt_tiles;
            ep_bound <= (layer_init && h_known) ? h_tiles : nxt_tiles;
        end else if (layer_active) begin
            if (!t_known && mask_fin) begin
                // the scan has ended: tiles per pass are known now
                t_known <= 1'b1;
                tpp <= mask_tiles_next;
                if (mask_tiles_next == 0) ep_cnt <= cur_n_pass;
                else if (e_after >= mask_tiles_next) begin
                    ep_cnt <= 1;
                    ep_bound <= mask_tiles_next + mask_tiles_next;
                end else ep_bound <= mask_tiles_next;
            end else if (t_known && e_tile_end && (e_after == ep_bound)) begin
                ep_cnt <= ep_cnt + 1'b1;
                ep_bound <= ep_bound + tpp;
            end
        end
    end
endmodule
`default_nettype wire
