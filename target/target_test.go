package target

import "testing"

func TestAssignIDs(t *testing.T) {
	tests := []struct {
		name      string
		ids, tids []int64
		want      []int64
	}{
		{"TIDs", []int64{0, 0, 0}, []int64{100002, 100001, 100003}, []int64{100002, 100001, 100003}},
		{"model IDs kept", []int64{0, 4194304, 4194305}, []int64{1, 0, 0}, []int64{1, 4194304, 4194305}},
		{"pid 0 and duplicates numbered above all", []int64{0, 0, 0, 0}, []int64{7, 0, 7, 0}, []int64{7, 8, 9, 10}},
		{"negative TID", []int64{0, 0}, []int64{-1, 3}, []int64{4, 3}},
		{"duplicate model ID", []int64{5, 5}, []int64{5, 5}, []int64{5, 6}},
	}
	for _, tt := range tests {
		ths := make([]*Thread, len(tt.tids))
		for i := range ths {
			ths[i] = &Thread{ID: tt.ids[i], TID: tt.tids[i]}
		}
		assignIDs(ths)
		for i, th := range ths {
			if th.ID != tt.want[i] {
				t.Errorf("%s: thread %d got ID %d, want %d", tt.name, i, th.ID, tt.want[i])
			}
		}
	}
}
